"""A Flux subset planned onto DataFusion, answered as InfluxDB 2's annotated CSV (docs/flux.md)."""
