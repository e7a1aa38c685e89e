"""No published cell counts 1 to k-1 subjects, and no suppressed cell follows from totals."""

from __future__ import annotations

import random

import pyarrow as pa
import pyarrow.parquet as pq

from tests.aggregates.conftest import request, used
from usage_pipeline.aggregates.disclosure import Disclosure, equations, suppression_mask
from usage_pipeline.aggregates.publish import table_path
from usage_pipeline.aggregates.tables import AGGREGATES

K = 5


def test_a_lone_small_cell_takes_the_next_smallest_with_it():
    # Total (row 0) of 30 subjects; cells of 3, 12, 7 and 8 subjects.
    eqs = [(0, [1, 2, 3, 4])]
    assert suppression_mask([30, 3, 12, 7, 8], eqs, K) == [False, True, False, True, False]


def test_two_small_cells_adding_up_to_fewer_than_k_take_a_third():
    assert suppression_mask([30, 1, 2, 9, 20], [(0, [1, 2, 3, 4])], K) == [
        False,
        True,
        True,
        True,
        False,
    ]


def test_a_suppressed_subtotal_hides_one_of_its_children_too():
    # Day total 0 = services 1 and 2; service 1 = features 3 and 4.
    eqs = [(0, [1, 2]), (1, [3, 4])]
    hidden = suppression_mask([40, 30, 4, 15, 15], eqs, K)
    assert hidden[2] and hidden[1], "service 2 is small, service 1 is its complement"
    assert hidden[3] or hidden[4], "features would add up to the hidden service 1"


def test_equations_pair_each_rollup_total_with_its_children():
    table = pa.table(
        {"day": [1, 1, 1, 1], "a": [None, "x", "x", "y"], "b": [None, None, "p", None]}
    )
    found = equations(table, Disclosure(fixed=("day",), rollup=("a", "b")))
    assert sorted(found) == [(0, [1, 3]), (1, [2])]


def random_lake(lake, seed: int = 3) -> None:
    """Many small and a few large cells: features and hosts of skewed popularity."""
    rand = random.Random(seed)
    users = [f"u{n}" for n in range(40)]
    days = [f"2026-11-{day:02d}" for day in range(20, 26)]
    usage = []
    traffic = []
    for _ in range(1500):
        day, hour = rand.choice(days), rand.randrange(24)
        feature = f"f{min(int(rand.expovariate(0.6)), 9)}"
        usage.append(used(f"{day}T{hour:02d}:00", rand.choice([*users, None]), feature=feature))
        host = f"h{min(int(rand.expovariate(0.8)), 6)}.example.com"
        traffic.append(request(f"{day}T{hour:02d}:30", f"v{rand.randrange(60)}", host=host))
    usage += [used("2026-11-30T09:00", user) for user in users[:2]]  # a quiet day
    lake.add("analytics", usage)
    lake.add("traffic", traffic)


SUBJECT_COLUMNS = {
    "usage": "users",
    "web_traffic": "unique_visitors",
    "active_subjects": "active_users",
}


def test_no_published_cell_counts_fewer_than_k_subjects(lake):
    random_lake(lake)
    published = lake.build(k=K)
    for name, column in SUBJECT_COLUMNS.items():
        rows = published[name]
        assert any(r["suppressed"] for r in rows), f"{name}: the test lake should need suppression"
        for r in rows:
            if r["suppressed"]:
                assert r[column] is None
            else:
                assert r[column] >= K, (name, r)


def test_no_suppressed_cell_can_be_derived_from_a_published_total(lake):
    random_lake(lake)
    lake.build(k=K)
    for aggregate in AGGREGATES:
        if aggregate.disclosure is None or not aggregate.disclosure.rollup:
            continue
        table = pq.read_table(table_path(lake.root, aggregate.name))
        hidden = table.column("suppressed").to_pylist()
        for total, cells in equations(table, aggregate.disclosure):
            secret = sum(hidden[c] for c in cells)
            if hidden[total]:
                assert secret, f"{aggregate.name}: a hidden total is the sum of its cells"
            else:
                assert secret != 1, f"{aggregate.name}: one hidden cell = total - the others"
