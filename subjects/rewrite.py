"""Rewrite one lake file without a subject: its rows deleted, or unlinked by random tokens.

The file keeps its name, since the sink resumes after the highest offset named in the lake,
and keeps its schema; a file whose rows all go stays as an empty file, or the sink would
read its offsets again. It is written under ``_sink/tmp/``, fsynced and renamed over the
original, so a reader sees the old file or the new one, never a part.

Unlinking keeps a row but replaces each pseudonym and each of the subject's identifiers in
it by ``erased:<random>``: the same value gets the same token within one erasure, so counts
of distinct users per account stay right, and the mapping is never stored, so nothing, not
even the key, leads from a token back to the subject.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from usage_pipeline.streams.sink.layout import LakeLayout
from usage_pipeline.streams.sink.writer import publish, write_parquet
from usage_pipeline.subjects.locate import FileMatch

ERASED_PREFIX = "erased:"
TEMPORARY_PREFIX = "erase."
# A pseudonym of any key: "<key id>:<32 hex>" (streams.anonymize.pseudonym).
PSEUDONYM = r"^[A-Za-z0-9_-]{1,32}:[0-9a-f]{32}$"


class Tokens:
    """One erasure's random tokens: a value gets the same token in every file it is in."""

    def __init__(self) -> None:
        self._tokens: dict[str, str] = {}  # in memory for one erasure only

    def of(self, values: list[str]) -> list[str]:
        """The token of each value, made on first sight."""
        return [self._tokens.setdefault(v, ERASED_PREFIX + secrets.token_hex(16)) for v in values]


@dataclass(frozen=True)
class Rewritten:
    """What one rewrite did."""

    rows_before: int
    rows_deleted: int
    rows_unlinked: int
    values_replaced: int


def remove_stale_temporaries(layout: LakeLayout) -> None:
    """Delete what an interrupted erasure was writing (its originals are still in place)."""
    if layout.tmp_dir.is_dir():
        for leftover in layout.tmp_dir.glob(TEMPORARY_PREFIX + "*.tmp"):
            leftover.unlink()


def delete_rows(layout: LakeLayout, match: FileMatch) -> Rewritten:
    """Rewrite the file without the subject's rows."""
    table = _read(match)
    kept = table.filter(pc.invert(match.mask))
    _replace(layout, match, kept)
    return Rewritten(table.num_rows, table.num_rows - kept.num_rows, 0, 0)


def unlink_rows(
    layout: LakeLayout, match: FileMatch, identifiers: frozenset[str], tokens: Tokens
) -> Rewritten:
    """Rewrite the file with every pseudonym and identifier of the subject's rows replaced by
    a random token; ``identifiers`` are the subject's values kept in clear (compared without
    case), e.g. an account id when the subject is an account."""
    table = _read(match).combine_chunks()
    mask = match.mask.combine_chunks()
    lowered = {v.lower() for v in identifiers}
    columns, replaced = [], 0
    for column in table.columns:
        array = column.chunk(0) if column.num_chunks else pa.array([], column.type)
        if pa.types.is_struct(array.type):
            array, count = _unlink_struct(array, mask, lowered, tokens)
            replaced += count
        columns.append(array)
    unlinked = table.from_arrays(columns, schema=table.schema)
    _replace(layout, match, unlinked)
    return Rewritten(table.num_rows, 0, match.matched, replaced)


def _unlink_struct(
    array: pa.StructArray, mask: pa.BooleanArray, lowered: set[str], tokens: Tokens
) -> tuple[pa.StructArray, int]:
    """The struct with its string fields unlinked in the masked rows."""
    children, replaced = [], 0
    for index in range(array.type.num_fields):
        child = pc.struct_field(array, [index])
        if pa.types.is_string(child.type):
            child, count = _unlink_strings(child, mask, lowered, tokens)
            replaced += count
        children.append(child)
    rebuilt = pa.StructArray.from_arrays(
        children, fields=list(array.type), mask=pc.is_null(array) if array.null_count else None
    )
    return rebuilt, replaced


def _unlink_strings(
    values: pa.StringArray, mask: pa.BooleanArray, lowered: set[str], tokens: Tokens
) -> tuple[pa.Array, int]:
    """``values`` with the linkable ones of the masked rows replaced by random tokens."""
    linkable = pc.or_(
        pc.match_substring_regex(values, PSEUDONYM),
        pc.is_in(pc.utf8_lower(values), value_set=pa.array(sorted(lowered), pa.string())),
    )
    chosen = pc.fill_null(pc.and_(mask, linkable), False)
    originals = pc.unique(values.filter(chosen))
    if len(originals) == 0:
        return values, 0
    replacements = pa.array(tokens.of(originals.to_pylist()), pa.string())
    mapped = pc.take(replacements, pc.index_in(values, value_set=originals))
    return pc.if_else(chosen, mapped, values), pc.sum(chosen).as_py()


def _read(match: FileMatch) -> pa.Table:
    path = match.file.path
    return pq.read_table(path, schema=pq.read_schema(path))


def _replace(layout: LakeLayout, match: FileMatch, table: pa.Table) -> None:
    path = match.file.path
    temporary = layout.tmp_dir / f"{TEMPORARY_PREFIX}{path.name}.{match.file.day}.tmp"
    write_parquet(table, temporary)
    publish(temporary, path)
