"""Fixtures for the event-contract tests: the compiled contracts and the example events."""

import copy
from collections.abc import Callable

import pytest

from tests.schemas.contract_cases import apply_changes, load_examples
from usage_pipeline.schemas.contracts import Contracts, load_contracts


@pytest.fixture(scope="session")
def contracts() -> Contracts:
    return load_contracts()


@pytest.fixture(scope="session")
def examples() -> dict[str, dict]:
    return load_examples()


@pytest.fixture
def example(examples) -> Callable[[str], dict]:
    """A fresh deep copy of the example of one event type, safe to mutate."""
    return lambda event_type: copy.deepcopy(examples[event_type])


@pytest.fixture
def event_with(example) -> Callable[..., dict]:
    """``event_with("usage.feature_used", {"context.ip": "010.1.1.1", "source": ...})``."""
    return lambda event_type, changes: apply_changes(example(event_type), changes)
