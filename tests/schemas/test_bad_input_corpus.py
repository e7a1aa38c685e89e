"""Contracts.parse() on the bad-input corpus: each case rejected with its reason, none echoed."""

import pytest

from tests.bad_input_corpus import BAD, CANARIES, VALID, Case
from usage_pipeline.schemas.contracts import ContractViolation


def names(cases: tuple[Case, ...]) -> list[str]:
    return [case.name for case in cases]


@pytest.mark.parametrize("case", BAD, ids=names(BAD))
def test_every_bad_input_is_rejected_with_the_field_and_reason_it_deserves(contracts, case):
    with pytest.raises(ContractViolation) as excinfo:
        contracts.parse(case.payload)
    violation = excinfo.value
    assert case.reason in str(violation)
    assert violation.__context__ is None  # the decoder's error holds the whole document


@pytest.mark.parametrize("case", BAD, ids=names(BAD))
def test_no_rejection_repeats_an_address_or_a_line_break_of_the_input(contracts, case):
    with pytest.raises(ContractViolation) as excinfo:
        contracts.parse(case.payload)
    text = f"{excinfo.value} {excinfo.value!r}"
    assert not any(canary in text for canary in CANARIES)
    assert "\r" not in text
    assert "\n" not in text


@pytest.mark.parametrize("case", VALID, ids=names(VALID))
def test_odd_but_valid_inputs_are_accepted(contracts, case):
    assert contracts.parse(case.payload)["event_id"]
