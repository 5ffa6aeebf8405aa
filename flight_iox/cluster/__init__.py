"""Node roles on a shared catalog and object store (docs/cluster.md).

``roles`` parses ``--mode``; ``registry`` keeps nodes, heartbeats and table leases in the
catalog database; ``heartbeat`` keeps this node's row and leases alive; ``ownership``
routes writes to the ingest node that owns a table; ``remote`` is the Flight client and
server side of node-to-node calls; ``remote_rows`` merges other nodes' unpersisted rows
into a query node's tables.
"""
