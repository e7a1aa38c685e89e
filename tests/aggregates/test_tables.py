"""Every table declares the lake outputs it reads: builds recompute and read by them."""

from __future__ import annotations

import pytest

from usage_pipeline.aggregates.lake import SOURCE_SCHEMAS, view_name
from usage_pipeline.aggregates.tables import AGGREGATES

LAKE_VIEWS = {view_name(purpose) for purpose in SOURCE_SCHEMAS}


@pytest.mark.parametrize("aggregate", AGGREGATES, ids=lambda a: a.name)
def test_a_table_reads_exactly_the_lake_views_its_queries_use(aggregate):
    text = aggregate.sql + (aggregate.daily or "")
    assert {view for view in LAKE_VIEWS if view in text} == LAKE_VIEWS & set(aggregate.reads)
    assert set(aggregate.purposes) == {p for p in SOURCE_SCHEMAS if view_name(p) in text}


@pytest.mark.parametrize(
    "aggregate", [a for a in AGGREGATES if a.daily is not None], ids=lambda a: a.name
)
def test_a_table_with_a_daily_query_reads_the_lake_only_through_it(aggregate):
    assert "from daily" in aggregate.sql
    assert not {view for view in LAKE_VIEWS if view in aggregate.sql}
    assert "event_date" in aggregate.daily  # partials are split and kept by day
