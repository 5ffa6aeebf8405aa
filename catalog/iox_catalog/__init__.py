"""The Iceberg-backed catalog of flight-iox (databases, tables, files); filled in by persistence."""
