"""Small-cell and complementary suppression of an aggregate table, with a ``suppressed`` column.

A cell is a row; its ``_subjects`` column (computed by the aggregate's query, never
published) counts the distinct subjects behind it. Totals are rows too: a table is a
rollup where, within the same ``fixed`` columns, a NULL in a rollup column means "all".
Each total and its direct children form an equation ``total = sum(children)``.

1. Primary: a cell with fewer than k distinct subjects is suppressed (0 counts too: a cell
   of events without consent has no known subject, and so no guarantee).
2. Complementary, repeated until nothing changes: in an equation whose total is
   published, a lone suppressed child, or suppressed children whose subjects add up to
   fewer than k, would be recovered by subtraction, so the published child with the fewest
   subjects is suppressed too (the total itself when no child is left). In an equation
   whose total is suppressed but every child is published, the total is their sum, so the
   smallest child is suppressed.

Subjects are summed over suppressed cells as a stand-in for their union, which can only be
smaller when one subject is in several cells: the rule is exact for counts of events and
cautious for distinct counts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

SUBJECTS = "_subjects"
SUPPRESSED = "suppressed"


@dataclass(frozen=True)
class Disclosure:
    """Where a table's totals are: ``fixed`` columns per equation, ``rollup`` outermost first."""

    fixed: tuple[str, ...] = ()
    rollup: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()  # descriptive columns kept on suppressed rows

    def measures(self, table: pa.Table) -> list[str]:
        """The columns a suppressed row publishes as NULL."""
        kept = {*self.fixed, *self.rollup, *self.labels, SUBJECTS}
        return [name for name in table.column_names if name not in kept]


Equation = tuple[int, list[int]]


def equations(table: pa.Table, spec: Disclosure) -> list[Equation]:
    """Every (total row, child rows) pair of a rollup table, by row index."""
    fixed = list(zip(*(table.column(c).to_pylist() for c in spec.fixed), strict=True))
    dims = list(zip(*(table.column(c).to_pylist() for c in spec.rollup), strict=True))
    if not spec.fixed:
        fixed = [()] * table.num_rows
    if not spec.rollup:
        return []
    nodes: dict[tuple, int] = {}
    children: dict[tuple, list[int]] = defaultdict(list)
    for row in range(table.num_rows):
        values = dims[row]
        depth = next((i for i, v in enumerate(values) if v is None), len(values))
        nodes[(fixed[row], values[:depth])] = row
        if depth:
            children[(fixed[row], values[: depth - 1])].append(row)
    return [(nodes[key], rows) for key, rows in children.items() if key in nodes]


def suppression_mask(subjects: Sequence[int], eqs: Sequence[Equation], k: int) -> list[bool]:
    """Which rows to suppress: fewer than k subjects, then complements until none is exposed."""
    hidden = [count < k for count in subjects]
    changed = True
    while changed:
        changed = False
        for total, cells in eqs:
            secret = [c for c in cells if hidden[c]]
            shown = sorted((c for c in cells if not hidden[c]), key=lambda c: (subjects[c], c))
            if hidden[total]:
                exposed = not secret
            else:
                exposed = bool(secret) and (
                    len(secret) == 1 or sum(subjects[c] for c in secret) < k
                )
            if not exposed:
                continue
            if shown:
                hidden[shown[0]] = True
            elif not hidden[total]:
                hidden[total] = True
            changed = True
    return hidden


def suppress(table: pa.Table, k: int, spec: Disclosure) -> pa.Table:
    """The table with suppressed rows' measures NULL, a ``suppressed`` column, no subjects."""
    mask = pa.array(
        suppression_mask(table.column(SUBJECTS).to_pylist(), equations(table, spec), k),
        pa.bool_(),
    )
    for name in spec.measures(table):
        column = table.column(name)
        index = table.schema.get_field_index(name)
        table = table.set_column(
            index, name, pc.if_else(mask, pa.scalar(None, column.type), column)
        )
    table = table.drop_columns([SUBJECTS])
    return table.append_column(SUPPRESSED, mask)


def suppressed_count(table: pa.Table) -> int | None:
    """How many rows of a published table are suppressed; None if it has no such column."""
    if SUPPRESSED not in table.column_names:
        return None
    return int(pc.sum(table.column(SUPPRESSED).cast(pa.int64())).as_py() or 0)
