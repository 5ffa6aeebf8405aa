"""``WriteBackend`` over the engine: Arrow tables through ``Engine.write_batches``.

Arrow data takes the same road as line protocol: mapped onto tags, fields and
time by ``measurement_batch_from_arrow``, validated against the catalog, made
durable in the WAL, then buffered. The engine checks the principal's ``write``
permission on the database. Flight SQL ingest, plain DoPut, ``INSERT`` and
InfluxQL ``SELECT ... INTO`` all write through this one class.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from flight_iox.auth.policy import Authorizer, Principal
from flight_iox.auth.tokens import Action
from flight_iox.engine.arrow_rows import measurement_batch_from_arrow

if TYPE_CHECKING:
    from flight_iox.engine.engine import Engine


class EngineWriter:
    """Writes Arrow tables into an ``Engine``, all or nothing."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def write_arrow(
        self,
        database: str,
        table: str,
        data: pa.Table,
        tag_columns: list[str] | None,
        *,
        principal: Principal,
    ) -> int:
        """Map, validate and durably store ``data`` as ``principal``; rows written."""
        if data.num_rows == 0:
            Authorizer.require(principal, Action.WRITE, database)
            return 0
        batch = measurement_batch_from_arrow(table, data, tag_columns)
        outcome = self.engine.write_batches(
            database, [batch], principal=principal, accept_partial=False
        )
        return outcome.rows_written

    def table_schema(self, database: str, table: str, *, principal: Principal) -> pa.Schema | None:
        """The schema of ``table`` (None when it or its database does not exist yet)."""
        Authorizer.require(principal, Action.WRITE, database)
        return self.engine.table_schema(database, table)
