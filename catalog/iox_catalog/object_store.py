"""The one object-store configuration: PyIceberg, pyarrow and DataFusion all derive from it.

Three clients reach the warehouse: PyIceberg's FileIO (metadata and manifests), pyarrow's
filesystem (the Parquet writer, the file checks, the Parquet cache) and DataFusion's own
``AmazonS3`` store (query scans). Each takes the endpoint, region, scheme and keys under
its own names; when they were wired in three places, a setting added to one could be
forgotten in another and the server would write where it could not read. Here they are
read once, into ``ObjectStoreConfig``, and each client's arguments are derived from it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import pyarrow.fs as pafs

if TYPE_CHECKING:
    from datafusion.object_store import AmazonS3

DEFAULT_REGION = "us-east-1"
# The AWS SDK's own defaults, which pyarrow and PyIceberg used before these were settings.
DEFAULT_REQUEST_TIMEOUT = 3.0  # seconds a request may go without an answer, then it is retried
DEFAULT_RETRY_MODE = "standard"
# How the AWS SDK waits before another try of a failed S3 request (3 tries in all):
# ``standard`` a random wait of up to 1 s, doubling; ``legacy`` 25 ms, doubling (AWS's
# ``retry_mode`` names; pyarrow has both). PyIceberg takes the class by its path.
RETRY_STRATEGIES = {
    "standard": "pyarrow.fs.AwsStandardS3RetryStrategy",
    "legacy": "pyarrow.fs.AwsDefaultS3RetryStrategy",
}

# The PyIceberg properties this module derives: a catalog property may not set them apart.
DERIVED_PROPERTIES = frozenset(
    {
        "s3.endpoint", "s3.region", "s3.access-key-id", "s3.secret-access-key",
        "s3.session-token", "s3.request-timeout", "s3.retry-strategy-impl",
    }
)  # fmt: skip


@dataclass(frozen=True)
class S3Credentials:
    """S3 keys (secrets: kept out of ``repr`` and never printed)."""

    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> S3Credentials:
        """Keys from the standard ``AWS_*`` variables (none: the clients' own lookup)."""
        env = os.environ if env is None else env
        return cls(
            env.get("AWS_ACCESS_KEY_ID") or None,
            env.get("AWS_SECRET_ACCESS_KEY") or None,
            env.get("AWS_SESSION_TOKEN") or None,
        )


class DataFusionStore(NamedTuple):
    """``SessionContext.register_object_store(*store)`` arguments for the warehouse bucket.

    DataFusion finds a store by scheme and host separately: the scheme must be exactly
    ``"s3://"`` and the bucket goes as the host (``"s3://bucket"`` as the scheme
    matches nothing).
    """

    scheme: str
    store: AmazonS3
    host: str


@dataclass(frozen=True)
class ObjectStoreConfig:
    """Where the warehouse is (a local folder or ``s3://bucket/prefix``) and how to reach it.

    ``endpoint`` is an S3-compatible URL (MinIO, moto, …); without a scheme it gets
    ``http://`` when ``allow_http`` is set, ``https://`` otherwise, and an ``http://``
    endpoint needs ``allow_http``: all three clients then agree on the scheme.
    ``request_timeout`` and ``retry_mode`` reach pyarrow and PyIceberg; DataFusion's store
    (queries) keeps its own retries, which it does not let us set.
    """

    warehouse: str
    endpoint: str | None = None
    region: str = DEFAULT_REGION
    allow_http: bool = False
    credentials: S3Credentials = field(default_factory=S3Credentials, repr=False)
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    retry_mode: str = DEFAULT_RETRY_MODE

    def __post_init__(self) -> None:
        if self.endpoint and self.endpoint.startswith("http://") and not self.allow_http:
            raise ValueError(
                f"the S3 endpoint {self.endpoint} is plain HTTP: allow it with --s3-allow-http"
            )
        if self.retry_mode not in RETRY_STRATEGIES:
            raise ValueError(
                f"unknown S3 retry mode {self.retry_mode!r}: use {' or '.join(RETRY_STRATEGIES)}"
            )

    @classmethod
    def from_environment(
        cls,
        warehouse: str,
        *,
        endpoint: str | None = None,
        region: str | None = None,
        allow_http: bool = False,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        retry_mode: str = DEFAULT_RETRY_MODE,
        env: Mapping[str, str] | None = None,
    ) -> ObjectStoreConfig:
        """The configuration with the region (else ``AWS_REGION``) and ``AWS_*`` keys filled in."""
        env = os.environ if env is None else env
        return cls(
            warehouse,
            endpoint=endpoint or None,
            region=region or env.get("AWS_REGION") or DEFAULT_REGION,
            allow_http=allow_http,
            credentials=S3Credentials.from_environment(env),
            request_timeout=request_timeout,
            retry_mode=retry_mode,
        )

    @property
    def is_s3(self) -> bool:
        """Whether the warehouse is in S3."""
        return self.warehouse.startswith("s3://")

    @property
    def bucket(self) -> str:
        """The S3 bucket of the warehouse."""
        return self.warehouse.removeprefix("s3://").split("/", 1)[0]

    @property
    def endpoint_url(self) -> str | None:
        """The endpoint with its scheme, as every client gets it (None: AWS itself)."""
        if not self.endpoint or "://" in self.endpoint:
            return self.endpoint
        return ("http://" if self.allow_http else "https://") + self.endpoint

    # --- what each client gets ---------------------------------------------------------------

    def pyiceberg_properties(self, *, include_secrets: bool = True) -> dict[str, str]:
        """The ``s3.*`` properties of PyIceberg's FileIO (none for a local warehouse)."""
        if not self.is_s3:
            return {}
        props = {"s3.region": self.region}
        if self.endpoint_url:
            props["s3.endpoint"] = self.endpoint_url
        if include_secrets:
            keys = {
                "s3.access-key-id": self.credentials.access_key_id,
                "s3.secret-access-key": self.credentials.secret_access_key,
                "s3.session-token": self.credentials.session_token,
            }
            props.update({k: v for k, v in keys.items() if v})
        return props

    def pyiceberg_client_properties(self) -> dict[str, str]:
        """The ``s3.*`` properties of the server's own FileIO: its request timeout and retries.

        Not part of ``pyiceberg_properties``: a reader the server tells where the warehouse is
        (``/api/v3/configure/catalog``, the Iceberg REST catalog) keeps its own client's.
        """
        if not self.is_s3:
            return {}
        return {
            "s3.request-timeout": str(self.request_timeout),
            "s3.retry-strategy-impl": RETRY_STRATEGIES[self.retry_mode],
        }

    def pyarrow_filesystem(self) -> pafs.FileSystem:
        """pyarrow's filesystem for the warehouse: local, or ``S3FileSystem``."""
        if not self.is_s3:
            return pafs.LocalFileSystem()
        return pafs.S3FileSystem(
            access_key=self.credentials.access_key_id,
            secret_key=self.credentials.secret_access_key,
            session_token=self.credentials.session_token,
            region=self.region,
            endpoint_override=self.endpoint_url,
            scheme="http" if self.allow_http else "https",
            request_timeout=self.request_timeout,
            retry_strategy=self.retry_strategy(),
        )

    def retry_strategy(self) -> pafs.S3RetryStrategy:
        """pyarrow's retry strategy of ``retry_mode`` (3 tries, its default)."""
        module, _, name = RETRY_STRATEGIES[self.retry_mode].rpartition(".")
        assert module == "pyarrow.fs"
        strategy: pafs.S3RetryStrategy = getattr(pafs, name)()
        return strategy

    def datafusion_store(self) -> DataFusionStore | None:
        """DataFusion's ``AmazonS3`` store for the bucket (local files need none)."""
        if not self.is_s3:
            return None
        from datafusion.object_store import AmazonS3  # the query layer's client: not at import

        store = AmazonS3(
            bucket_name=self.bucket,
            region=self.region,
            access_key_id=self.credentials.access_key_id,
            secret_access_key=self.credentials.secret_access_key,
            session_token=self.credentials.session_token,
            endpoint=self.endpoint_url,
            allow_http=self.allow_http,
        )
        return DataFusionStore("s3://", store, self.bucket)
