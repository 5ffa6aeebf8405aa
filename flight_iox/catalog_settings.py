"""The Iceberg catalog and object store a server's settings name.

Apart from ``flight_iox.config`` (stdlib only, imported by ``--help``): building a
``CatalogConfig`` imports ``iox_catalog``, which brings PyIceberg.
"""

from __future__ import annotations

from flight_iox.config import Settings
from iox_catalog.config import CatalogConfig
from iox_catalog.object_store import ObjectStoreConfig


def catalog_config(settings: Settings) -> CatalogConfig:
    """The Iceberg catalog to open and the object store of its warehouse.

    The region falls back to ``AWS_REGION`` and the S3 keys come from ``AWS_*``
    variables, read here, once.
    """
    local = CatalogConfig.local(settings.data_dir)
    warehouse = local.warehouse
    if settings.object_store == "s3":
        if not settings.bucket:
            raise ValueError("--object-store s3 needs --bucket")
        warehouse = f"s3://{settings.bucket.strip('/')}"
    elif settings.object_store != "file":
        raise ValueError(f"unknown object store {settings.object_store!r}: use file or s3")
    store = ObjectStoreConfig.from_environment(
        warehouse,
        endpoint=settings.s3_endpoint,
        region=settings.s3_region,
        allow_http=settings.s3_allow_http,
        request_timeout=settings.s3_request_timeout_seconds,
        retry_mode=settings.s3_retry_mode,
    )
    uri = settings.catalog_uri
    if uri is None and settings.catalog_type == "sql":
        uri = local.uri
    return CatalogConfig(
        store, uri=uri, type=settings.catalog_type, extra=tuple(settings.catalog_properties)
    )
