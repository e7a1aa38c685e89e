"""The lake opens in pyarrow, pandas, DuckDB and polars; none of them sees a temporary file."""

from __future__ import annotations

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from tests.streams.sink.conftest import POLICY, expected_rows
from usage_pipeline.schemas.contracts import load_contracts
from usage_pipeline.streams.sink.arrow_schema import dataset_schema, output_schemas, partitioning
from usage_pipeline.streams.sink.layout import LakeLayout

pytestmark = pytest.mark.kafka


@pytest.fixture
def lake(sink_env, make_outputs):
    """A lake written by the sink, plus what a crash mid-flush leaves in its state folder."""
    produced = sink_env.produce(make_outputs(sink_env.namespace, events=800))
    sink_env.run(flush_rows=200)
    layout = LakeLayout(sink_env.lake)
    (layout.tmp_dir / "t+0+0000000000-0000000009.parquet.event_date=2026-11-24.tmp").write_bytes(
        b"PAR1 half written"
    )
    return sink_env.lake, len(expected_rows(produced))


def test_pyarrow_reads_typed_columns_and_the_event_date(lake):
    root, rows = lake
    total = 0
    schemas = output_schemas(POLICY, load_contracts())
    for folder in (root / "clean").iterdir():
        expected = dataset_schema(schemas[folder.name])
        table = ds.dataset(folder, schema=expected, partitioning=partitioning()).to_table()
        assert table.schema == expected
        total += table.num_rows
    assert total == rows


def test_pandas_reads_each_output(lake):
    root, rows = lake
    frames = [pd.read_parquet(folder) for folder in (root / "clean").iterdir()]
    assert sum(len(f) for f in frames) == rows
    assert all(str(f["occurred_at"].dtype) == "datetime64[us, UTC]" for f in frames)


def test_duckdb_reads_the_whole_lake_with_hive_partitions(lake):
    root, rows = lake
    count, days, typed = duckdb.sql(
        f"""select count(*), count(distinct event_date), any_value(typeof(event_date))
            from read_parquet('{root}/clean/*/*/*.parquet', hive_partitioning=true)"""
    ).fetchall()[0]
    assert (count, typed) == (rows, "DATE")
    assert days >= 2
    (duplicates,) = duckdb.sql(
        f"""select count(*) - count(distinct (purpose, event_id))
            from read_parquet('{root}/**/*.parquet')"""
    ).fetchall()[0]
    assert duplicates == 0


def test_polars_reads_the_lake_by_glob_and_by_folder(lake):
    root, rows = lake
    by_glob = pl.scan_parquet(f"{root}/clean/*/*/*.parquet", hive_partitioning=True)
    assert by_glob.select(pl.len()).collect().item() == rows
    assert by_glob.collect_schema()["event_date"] == pl.Date
    by_folder = sum(
        pl.read_parquet(folder, hive_partitioning=True).height
        for folder in (root / "clean").iterdir()
    )
    assert by_folder == rows


def test_files_keep_the_record_shape_of_the_clean_topics(lake):
    root, _ = lake
    table = ds.dataset(root / "clean" / "traffic", partitioning=partitioning()).to_table()
    assert "subject" not in table.column_names
    assert pa.types.is_struct(table.schema.field("context").type)
    assert table["context"].combine_chunks().field("visitor_id").null_count < table.num_rows
