"""The columns the aggregates read are columns the sink writes, with the same types."""

from __future__ import annotations

import pyarrow as pa
import pytest

from usage_pipeline.aggregates.lake import SOURCE_SCHEMAS
from usage_pipeline.schemas.contracts import load_contracts
from usage_pipeline.streams.policy.loader import load_policy
from usage_pipeline.streams.sink.arrow_schema import output_schema


def leaves(fields: list[pa.Field], prefix: str = "") -> dict[str, pa.DataType]:
    found = {}
    for field in fields:
        if pa.types.is_struct(field.type):
            found |= leaves(list(field.type), f"{prefix}{field.name}.")
        else:
            found[prefix + field.name] = field.type
    return found


@pytest.mark.parametrize("purpose", sorted(SOURCE_SCHEMAS))
def test_aggregates_read_only_columns_the_sink_writes(purpose, repo_root):
    policy = load_policy(repo_root / "config" / "anonymization.yaml")
    written = leaves(list(output_schema(policy, load_contracts(), purpose)))
    read = leaves([f for f in SOURCE_SCHEMAS[purpose] if f.name != "event_date"])
    assert {path: written.get(path) for path in read} == read
