"""A statement's scans, read from DataFusion's optimized plan over empty tables.

A query node must say what it needs of each table (``scan_needs.py``) before the ingest
nodes send their rows, so before the statement can be planned over them. It is planned
once more, first, in a context shaped like the real one (the same catalogs, ``iox``
schemas and default database) whose tables are empty, with the schemas this node knows.
The optimizer then does the work: each ``TableScan`` carries its projection, and the
filter directly on it holds the predicates that apply to that table's rows.

When that plan cannot be made or read (a table or column this node does not know yet, a
function only the real contexts have, a subquery inside an expression, a statement that
lists tables), there is no pushdown for the statement: the ingest nodes send everything,
as before, and this node learns the new schemas from them.

Time bounds of a statement that reads the clock (``now()``) are folded at this planning,
before the real one: a lower bound only grows with the clock, so it is kept; an upper
bound would shrink the answer and is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa
from datafusion import Expr, SessionConfig, SessionContext
from datafusion.catalog import Catalog, Schema
from datafusion.plan import LogicalPlan

from flight_iox.query.engine_errors import is_engine_error
from flight_iox.query.iox_sql import rewrite_iox_sql
from flight_iox.query.placeholders import rewrite_placeholders
from flight_iox.query.scan_needs import ScanNeeds, scan_needs
from flight_iox.query.statement_cache import time_dependent

USER_SCHEMA = "iox"
NO_DATABASE = "__no_database__"  # the empty default catalog of a request naming none
# database -> table -> needs; None: no pushdown for the statement.
StatementNeeds = Mapping[str, Mapping[str, ScanNeeds]] | None


def statement_needs(
    sql: str, default: str | None, schemas: Mapping[str, Mapping[str, pa.Schema]]
) -> StatementNeeds:
    """What ``sql`` (default database ``default``) needs of each table of ``schemas``
    (database -> table -> the schema this node knows) it scans; None when unknown."""
    text = rewrite_placeholders(rewrite_iox_sql(sql)[0])[0]
    try:
        plan = _shape_context(default, schemas).sql(text).optimized_logical_plan()
    except Exception as error:
        if not is_engine_error(error):
            raise
        return None  # a name this node does not know yet, or a statement that is not a query
    scans: list[tuple[str, str, ScanNeeds]] = []
    if not _collect(plan, None, default or NO_DATABASE, schemas, scans):
        return None
    if plan.display_indent().count("TableScan:") != len(scans):
        return None  # a scan inside an expression's subquery: not among the plan's inputs
    clock = time_dependent(sql)
    found: dict[str, dict[str, ScanNeeds]] = {}
    for database, table, needs in scans:
        if clock:
            needs = ScanNeeds(needs.columns, needs.first, None, needs.tags, needs.known)
        tables = found.setdefault(database, {})
        tables[table] = tables[table].union(needs) if table in tables else needs
    return found


def _collect(
    plan: LogicalPlan,
    parent: object,
    default: str,
    schemas: Mapping[str, Mapping[str, pa.Schema]],
    scans: list[tuple[str, str, ScanNeeds]],
) -> bool:
    """Append each user-table scan under ``plan``; False at a scan of anything else."""
    variant = plan.to_variant()
    if type(variant).__name__ == "TableScan":
        catalog, schema, table = variant.fqn()
        database = catalog or default
        if (schema or USER_SCHEMA) != USER_SCHEMA or table not in schemas.get(database, {}):
            return False
        predicates = [Expr(f) for f in variant.filters()]
        if type(parent).__name__ == "Filter":
            predicates.append(Expr(parent.predicate()))  # type: ignore[attr-defined]
        predicate = None
        for each in predicates:
            predicate = each if predicate is None else predicate & each
        projection = variant.projection()
        columns = None if projection is None else [name for _, name in projection]
        scans.append((database, table, scan_needs(predicate, columns, schemas[database][table])))
        return True
    return all(_collect(child, variant, default, schemas, scans) for child in plan.inputs())


def _shape_context(
    default: str | None, schemas: Mapping[str, Mapping[str, pa.Schema]]
) -> SessionContext:
    """A context resolving names as the real ones do, over empty tables."""
    config = SessionConfig().with_default_catalog_and_schema(default or NO_DATABASE, USER_SCHEMA)
    context = SessionContext(config)
    scratch = SessionContext()
    if default is None or default not in schemas:
        context.register_catalog_provider(default or NO_DATABASE, _catalog({}, scratch))
    for database, tables in schemas.items():
        context.register_catalog_provider(database, _catalog(tables, scratch))
    return context


def _catalog(tables: Mapping[str, pa.Schema], scratch: SessionContext) -> Catalog:
    catalog = Catalog.memory_catalog()
    schema = Schema.memory_schema()
    catalog.register_schema(USER_SCHEMA, schema)
    for name, table_schema in tables.items():
        empty = pa.RecordBatch.from_pylist([], schema=table_schema)
        scratch.register_record_batches("shape", [[empty]])
        schema.register_table(name, scratch.table_provider("shape"))
        scratch.deregister_table("shape")
    return catalog
