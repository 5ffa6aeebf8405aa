"""Which Iceberg catalog to open and where the data lives: PyIceberg's ``load_catalog`` arguments.

The catalog is any type PyIceberg's ``load_catalog`` knows (``sql`` by default: SQLite in
the data folder, or PostgreSQL to share it; ``rest``, ``glue``, ``hive``, …), given its
own properties; the object-store properties come from the one ``ObjectStoreConfig``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from iox_catalog.object_store import DERIVED_PROPERTIES, ObjectStoreConfig

# Properties with their own setting: a catalog property naming one is refused.
_OWN_SETTINGS = {"type": "--catalog-type", "uri": "--catalog-uri"}
# Catalog properties that hold secrets (REST credentials and tokens, cloud keys, passwords).
_SECRET = re.compile(r"secret|token|credential|password|access-key|account-key", re.I)


def is_secret_property(key: str) -> bool:
    """Whether a PyIceberg property holds a secret (left out of what is shown)."""
    return bool(_SECRET.search(key))


def without_password(uri: str) -> str:
    """``uri`` with the password of its user part, if any, written as ``***``."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    user, _, host = parts.netloc.rpartition("@")
    name = user.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{name}:***@{host}"))


@dataclass(frozen=True)
class CatalogConfig:
    """The catalog to open, and the object store behind its warehouse.

    ``uri`` is the catalog's URI: a SQLAlchemy URL for ``sql`` (``sqlite:///…``, or
    ``postgresql://…`` for a catalog shared by several servers), the server's URL for
    ``rest``, ``thrift://…`` for ``hive``, none for ``glue``. ``extra`` holds any other
    PyIceberg catalog properties as ``(key, value)`` pairs; keys that have their own
    setting (``type``, ``uri``) or that derive from the object store (``s3.endpoint``, …)
    are refused there, so one value cannot be given twice, differently.
    """

    store: ObjectStoreConfig
    uri: str | None = None
    type: str = "sql"
    name: str = "flight_iox"
    extra: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        for key, _ in self.extra:
            if key in _OWN_SETTINGS:
                raise ValueError(
                    f"catalog property {key!r} has its own setting: use {_OWN_SETTINGS[key]}"
                )
            if key in DERIVED_PROPERTIES:
                raise ValueError(
                    f"catalog property {key!r} comes from the object-store settings "
                    "(--s3-endpoint, --s3-region, --s3-request-timeout, --s3-retry-mode, "
                    "AWS_* keys), so PyIceberg, pyarrow and DataFusion agree: set it there"
                )

    @classmethod
    def local(cls, data_dir: Path) -> CatalogConfig:
        """SQLite in the data folder, warehouse in ``<data_dir>/warehouse``."""
        root = data_dir.resolve()
        store = ObjectStoreConfig(warehouse=f"file://{root / 'warehouse'}")
        return cls(store, uri=f"sqlite:///{root / 'catalog.db'}")

    @property
    def warehouse(self) -> str:
        """The warehouse URI: a ``file://`` folder or ``s3://bucket/prefix``."""
        return self.store.warehouse

    @property
    def is_s3(self) -> bool:
        """Whether the warehouse is in S3."""
        return self.store.is_s3

    @property
    def is_sql(self) -> bool:
        """Whether the catalog is PyIceberg's SQL catalog (SQLite or PostgreSQL)."""
        return self.type == "sql"

    def catalog_uri(self) -> str | None:
        """The URI as PyIceberg gets it: for ``sql``, with the psycopg 3 driver on PostgreSQL."""
        if self.uri is None or not self.is_sql:
            return self.uri
        for prefix in ("postgresql://", "postgres://"):
            if self.uri.startswith(prefix):
                return "postgresql+psycopg://" + self.uri.removeprefix(prefix)
        return self.uri

    def server_properties(self) -> dict[str, str]:
        """``properties()`` and the S3 client settings of the server's own FileIO."""
        return {**self.properties(), **self.store.pyiceberg_client_properties()}

    def properties(self, *, include_secrets: bool = True) -> dict[str, str]:
        """Keyword arguments for ``pyiceberg.catalog.load_catalog(name, **properties)``.

        The warehouse is the store's unless a catalog property names another (a REST
        catalog's warehouse is often a name, not a location); table locations are always
        made under the store's warehouse.
        """
        props = {"type": self.type, "warehouse": self.warehouse}
        uri = self.catalog_uri()
        if uri is not None:
            props["uri"] = uri if include_secrets else without_password(uri)
        props.update(self.store.pyiceberg_properties(include_secrets=include_secrets))
        props.update(
            (key, value)
            for key, value in self.extra
            if include_secrets or not is_secret_property(key)
        )
        return props
