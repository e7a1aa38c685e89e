"""The Parquet lake sink: clean topics into Hive-partitioned Parquet files, each row once."""
