"""Replication of the WAL to other nodes (docs/cluster.md#replication).

``protocol`` is the wire format of shipped entries (no I/O); ``replica`` is the
receiving side (its role, and applying entries to its WAL and buffer); ``shipper``
pushes to one replica (``--replicate-to``); ``puller`` follows a leader
(``--follow``); ``service`` ties them to the write path, the Flight actions and
``system.replication``.
"""
