"""What the catalog and the server share, and nothing else: the leaf of the import graph.

- ``columns``: the data model (column roles, field types, the ``time`` column);
- ``names``: the rules for database, table and column names, and path segments;
- ``errors``: the one error hierarchy, each class with its HTTP and gRPC status.

It imports only the standard library and pyarrow, so ``iox_catalog`` and
``flight_iox`` both build on it and neither imports the other through it.
"""
