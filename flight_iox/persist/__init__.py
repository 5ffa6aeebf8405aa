"""Persistence: buffered rows to sorted Parquet files committed to Iceberg; compaction."""
