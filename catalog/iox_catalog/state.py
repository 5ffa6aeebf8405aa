"""What the shared catalog holds right now, read cheaply: a follower compares it each tick.

A PyIceberg SQL catalog keeps, per table, the location of its current metadata file, and
every commit writes a new one; per namespace, its properties (our retention). Two queries
of those rows tell what changed since the last look without reading any table's metadata,
so only the tables that did change are loaded. Another catalog kind is listed and each
table loaded for its location: correct, and as costly as a start.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import IcebergNamespaceProperties, IcebergTables, SqlCatalog
from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError
from sqlalchemy import select
from sqlalchemy.orm import Session

RETENTION_PROPERTY = "iox.retention-ns"


def retention_of(properties: Mapping[str, str]) -> int | None:
    """A namespace's retention in nanoseconds from its properties (None: keep forever)."""
    value = properties.get(RETENTION_PROPERTY)
    return int(value) if value and int(value) > 0 else None


@dataclass(frozen=True)
class CatalogState:
    """Every database with its retention, and every table with its metadata location."""

    databases: Mapping[str, int | None] = field(default_factory=dict)
    tables: Mapping[tuple[str, str], str] = field(default_factory=dict)


def read_state(iceberg: Catalog) -> CatalogState:
    """The catalog's databases and tables now (one-level namespaces only: ours)."""
    if isinstance(iceberg, SqlCatalog):
        return _sql_state(iceberg)
    return _listed_state(iceberg)


def _sql_state(iceberg: SqlCatalog) -> CatalogState:
    name = iceberg.name
    properties: dict[str, dict[str, str]] = {}
    tables: dict[tuple[str, str], str] = {}
    with Session(iceberg.engine) as session:
        rows = session.execute(
            select(
                IcebergNamespaceProperties.namespace,
                IcebergNamespaceProperties.property_key,
                IcebergNamespaceProperties.property_value,
            ).where(IcebergNamespaceProperties.catalog_name == name)
        )
        for namespace, key, value in rows:
            properties.setdefault(namespace, {})[key] = value
        rows = session.execute(
            select(
                IcebergTables.table_namespace,
                IcebergTables.table_name,
                IcebergTables.metadata_location,
            ).where(IcebergTables.catalog_name == name)
        )
        for namespace, table, location in rows:
            tables[(namespace, table)] = location or ""
            properties.setdefault(namespace, {})
    databases = {ns: retention_of(props) for ns, props in properties.items() if "." not in ns}
    return CatalogState(databases, {k: v for k, v in tables.items() if k[0] in databases})


def _listed_state(iceberg: Catalog) -> CatalogState:
    databases: dict[str, int | None] = {}
    tables: dict[tuple[str, str], str] = {}
    for namespace in iceberg.list_namespaces():
        if len(namespace) != 1:
            continue
        try:
            databases[namespace[0]] = retention_of(iceberg.load_namespace_properties(namespace))
            for identifier in iceberg.list_tables(namespace):
                table = iceberg.load_table(identifier)
                tables[(namespace[0], identifier[-1])] = table.metadata_location
        except (NoSuchNamespaceError, NoSuchTableError):
            continue  # dropped while listed: the next look says so
    return CatalogState(databases, tables)
