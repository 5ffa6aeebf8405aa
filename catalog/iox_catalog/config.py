"""Where the catalog and the data live: one frozen object, turned into PyIceberg properties."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CatalogConfig:
    """The catalog database, the warehouse, and how to reach object storage.

    ``uri`` is a SQLAlchemy URL: ``sqlite:///…`` (the default, in the data folder) or
    ``postgresql://…`` for a catalog shared by several servers. ``warehouse`` is a
    local folder or ``s3://bucket/prefix``. S3 keys come from the standard ``AWS_*``
    environment variables and are never printed.
    """

    uri: str
    warehouse: str
    name: str = "flight_iox"
    s3_endpoint: str | None = None
    s3_region: str | None = None
    s3_allow_http: bool = False

    @classmethod
    def local(cls, data_dir: Path) -> CatalogConfig:
        """SQLite in the data folder, warehouse in ``<data_dir>/warehouse``."""
        root = data_dir.resolve()
        return cls(uri=f"sqlite:///{root / 'catalog.db'}", warehouse=f"file://{root / 'warehouse'}")

    @property
    def is_s3(self) -> bool:
        """Whether the warehouse is in S3."""
        return self.warehouse.startswith("s3://")

    def sqlalchemy_uri(self) -> str:
        """The URI with a driver SQLAlchemy can load (psycopg 3 for PostgreSQL)."""
        for prefix in ("postgresql://", "postgres://"):
            if self.uri.startswith(prefix):
                return "postgresql+psycopg://" + self.uri.removeprefix(prefix)
        return self.uri

    def s3_credentials(self) -> dict[str, str]:
        """Keys from the standard AWS variables (secrets: never print these)."""
        env = os.environ
        found = {
            "s3.access-key-id": env.get("AWS_ACCESS_KEY_ID"),
            "s3.secret-access-key": env.get("AWS_SECRET_ACCESS_KEY"),
            "s3.session-token": env.get("AWS_SESSION_TOKEN"),
        }
        return {k: v for k, v in found.items() if v}

    def properties(self, *, include_secrets: bool = True) -> dict[str, str]:
        """Keyword arguments for ``pyiceberg.catalog.load_catalog(name, **properties)``."""
        props = {"type": "sql", "uri": self.sqlalchemy_uri(), "warehouse": self.warehouse}
        if self.is_s3:
            if self.s3_endpoint:
                props["s3.endpoint"] = self.s3_endpoint
            region = self.s3_region or os.environ.get("AWS_REGION") or "us-east-1"
            props["s3.region"] = region
            if include_secrets:
                props.update(self.s3_credentials())
        return props
