"""Object storage for the warehouse: a pyarrow filesystem for local folders or S3."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow.fs as pafs

from iox_catalog.config import CatalogConfig


@dataclass(frozen=True)
class Storage:
    """A filesystem and the mapping from warehouse URIs to its paths."""

    filesystem: pafs.FileSystem
    scheme: str

    def path(self, uri: str) -> str:
        """The filesystem path of ``file:///…`` or ``s3://…`` URIs (plain paths pass)."""
        return uri.split("://", 1)[1] if "://" in uri else uri

    def uri(self, path: str) -> str:
        """The URI of a filesystem path (what the catalog records)."""
        return f"{self.scheme}://{path}" if self.scheme == "s3" else f"file://{path}"


def open_storage(config: CatalogConfig) -> Storage:
    """The filesystem behind ``config.warehouse``."""
    if not config.is_s3:
        return Storage(pafs.LocalFileSystem(), "file")
    creds = config.s3_credentials()
    filesystem = pafs.S3FileSystem(
        access_key=creds.get("s3.access-key-id"),
        secret_key=creds.get("s3.secret-access-key"),
        session_token=creds.get("s3.session-token"),
        region=config.properties(include_secrets=False).get("s3.region"),
        endpoint_override=config.s3_endpoint,
        scheme="http" if config.s3_allow_http else "https",
    )
    return Storage(filesystem, "s3")
