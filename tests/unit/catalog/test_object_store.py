"""One ``ObjectStoreConfig``: PyIceberg, pyarrow and DataFusion get the same S3 settings.

The derivations are compared field by field (PyIceberg's own pyarrow filesystem, built from
the derived properties, against ours), then one file is read through each client from a
moto S3 server on loopback, which only works when all three reach the same endpoint with
the same region, scheme and keys.
"""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from datafusion import SessionContext
from pyiceberg.catalog import CatalogType
from pyiceberg.io.pyarrow import PyArrowFileIO, _import_retry_strategy

from flight_iox.catalog_settings import catalog_config
from flight_iox.config import CATALOG_TYPES, Settings, setting_specs
from iox_catalog.config import CatalogConfig, is_secret_property, without_password
from iox_catalog.object_store import (
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_RETRY_MODE,
    RETRY_STRATEGIES,
    ObjectStoreConfig,
    S3Credentials,
)
from iox_catalog.storage import open_storage
from tests.e2e.moto_s3 import ACCESS_KEY, REGION, SECRET_KEY, MotoS3, moto_s3

__all__ = ["moto_s3"]  # the fixture, imported for pytest

KEYS = S3Credentials("key-id", "secret", "session")


def _s3_kwargs(filesystem: pafs.FileSystem) -> dict[str, object]:
    """The arguments an ``S3FileSystem`` was made with (what it will send)."""
    assert isinstance(filesystem, pafs.S3FileSystem)
    return dict(filesystem.__reduce__()[1][0])


@pytest.mark.parametrize(
    ("endpoint", "allow_http", "url"),
    [
        ("127.0.0.1:9000", True, "http://127.0.0.1:9000"),
        ("minio.example:9000", False, "https://minio.example:9000"),
        ("http://127.0.0.1:9000", True, "http://127.0.0.1:9000"),
        ("https://s3.example", False, "https://s3.example"),
    ],
)
def test_pyiceberg_and_pyarrow_get_the_same_endpoint_region_scheme_and_keys(
    endpoint: str, allow_http: bool, url: str
) -> None:
    store = ObjectStoreConfig(
        "s3://bucket/prefix", endpoint=endpoint, region="eu-west-3", allow_http=allow_http,
        credentials=KEYS,
    )  # fmt: skip
    props = store.pyiceberg_properties()
    assert props == {
        "s3.endpoint": url,
        "s3.region": "eu-west-3",
        "s3.access-key-id": "key-id",
        "s3.secret-access-key": "secret",
        "s3.session-token": "session",
    }
    ours = _s3_kwargs(store.pyarrow_filesystem())
    own = {**props, **store.pyiceberg_client_properties()}  # the server's own FileIO
    theirs = _s3_kwargs(PyArrowFileIO(own).fs_by_scheme("s3", "bucket"))
    # PyIceberg leaves ``scheme`` at https: the endpoint's own scheme wins, in both.
    assert {k: v for k, v in ours.items() if k != "scheme"} == {
        k: v for k, v in theirs.items() if k != "scheme"
    }
    assert ours["endpoint_override"] == url
    assert ours["request_timeout"] == 3.0
    assert ours["scheme"] == ("http" if allow_http else "https")
    assert (ours["region"], ours["access_key"], ours["session_token"]) == (
        "eu-west-3", "key-id", "session",
    )  # fmt: skip
    datafusion = store.datafusion_store()
    assert datafusion is not None
    assert (datafusion.scheme, datafusion.host) == ("s3://", "bucket")


@pytest.mark.parametrize(
    ("mode", "strategy"),
    [("standard", pafs.AwsStandardS3RetryStrategy), ("legacy", pafs.AwsDefaultS3RetryStrategy)],
)
def test_pyiceberg_and_pyarrow_get_the_same_request_timeout_and_retries(
    mode: str, strategy: type
) -> None:
    store = ObjectStoreConfig("s3://bucket", request_timeout=0.5, retry_mode=mode)
    props = store.pyiceberg_client_properties()
    assert set(props) == {"s3.request-timeout", "s3.retry-strategy-impl"}
    assert set(props).isdisjoint(store.pyiceberg_properties())  # not handed to readers
    ours = _s3_kwargs(store.pyarrow_filesystem())
    theirs = _s3_kwargs(PyArrowFileIO(props).fs_by_scheme("s3", "bucket"))
    assert ours["request_timeout"] == theirs["request_timeout"] == 0.5
    # an S3FileSystem does not give its retry strategy back: compare what each is handed
    assert type(store.retry_strategy()) is strategy
    assert type(_import_retry_strategy(props["s3.retry-strategy-impl"])) is strategy
    assert store.retry_strategy().max_attempts == 3
    with pytest.raises(ValueError, match="standard or legacy"):
        ObjectStoreConfig("s3://bucket", retry_mode="adaptive")


def test_secrets_are_left_out_when_asked_and_never_in_repr() -> None:
    store = ObjectStoreConfig("s3://bucket", credentials=KEYS)
    assert store.pyiceberg_properties(include_secrets=False) == {"s3.region": "us-east-1"}
    assert "secret" not in repr(store) and "key-id" not in repr(store)
    assert "secret" not in repr(KEYS)


def test_a_plain_http_endpoint_needs_allow_http() -> None:
    with pytest.raises(ValueError, match="--s3-allow-http"):
        ObjectStoreConfig("s3://bucket", endpoint="http://127.0.0.1:9000")


def test_region_and_keys_come_from_the_environment_once() -> None:
    env = {"AWS_REGION": "ap-south-1", "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"}
    store = ObjectStoreConfig.from_environment("s3://bucket", env=env)
    assert store.region == "ap-south-1"
    assert store.credentials == S3Credentials("a", "b", None)
    assert ObjectStoreConfig.from_environment("s3://b", region="eu-north-1", env=env).region == (
        "eu-north-1"
    )
    assert ObjectStoreConfig.from_environment("s3://b", env={}).region == "us-east-1"
    empty = ObjectStoreConfig.from_environment("s3://b", env={"AWS_SESSION_TOKEN": ""})
    assert empty.credentials == S3Credentials()


def test_a_local_warehouse_needs_no_s3_client(tmp_path: Path) -> None:
    store = CatalogConfig.local(tmp_path).store
    assert store.pyiceberg_properties() == {}
    assert isinstance(store.pyarrow_filesystem(), pafs.LocalFileSystem)
    assert store.datafusion_store() is None
    assert open_storage(store).scheme == "file"


def test_one_file_reads_the_same_through_all_three_clients(moto_s3: MotoS3) -> None:
    store = ObjectStoreConfig(
        f"s3://{moto_s3.bucket}/derive", endpoint=moto_s3.endpoint.removeprefix("http://"),
        region=REGION, allow_http=True, credentials=S3Credentials(ACCESS_KEY, SECRET_KEY),
    )  # fmt: skip
    table = pa.table({"host": ["a", "b", "c"], "v": [1.0, 2.5, 4.0]})
    key = f"{moto_s3.bucket}/derive/one.parquet"
    pq.write_table(table, key, filesystem=store.pyarrow_filesystem())  # pyarrow writes

    iceberg_io = PyArrowFileIO(store.pyiceberg_properties())  # PyIceberg reads
    with iceberg_io.new_input(f"s3://{key}").open() as stream:
        assert pq.read_table(io.BytesIO(stream.read())) == table

    context = SessionContext()  # DataFusion reads
    datafusion = store.datafusion_store()
    assert datafusion is not None
    context.register_object_store(*datafusion)
    context.register_parquet("one", f"s3://{key}")
    rows = context.sql("SELECT count(*) AS n, sum(v) AS s FROM one").to_pylist()
    assert rows == [{"n": 3, "s": 7.5}]


def test_catalog_properties_take_the_type_uri_store_and_extras(tmp_path: Path) -> None:
    store = ObjectStoreConfig("s3://bucket/wh", region="eu-west-1", credentials=KEYS)
    sql = CatalogConfig(store, uri="postgresql://u@h/db", extra=(("pool_pre_ping", "true"),))
    assert sql.properties() == {
        "type": "sql",
        "uri": "postgresql+psycopg://u@h/db",
        "warehouse": "s3://bucket/wh",
        "s3.region": "eu-west-1",
        "s3.access-key-id": "key-id",
        "s3.secret-access-key": "secret",
        "s3.session-token": "session",
        "pool_pre_ping": "true",
    }
    rest = CatalogConfig(
        store, uri="https://rest.example", type="rest",
        extra=(("warehouse", "analytics"), ("credential", "id:secret"), ("scope", "all")),
    )  # fmt: skip
    shown = rest.properties(include_secrets=False)
    assert shown == {
        "type": "rest",
        "uri": "https://rest.example",  # no psycopg driver outside the SQL catalog
        "warehouse": "analytics",  # the catalog's warehouse name; tables still go under s3://
        "s3.region": "eu-west-1",
        "scope": "all",
    }
    assert rest.properties()["credential"] == "id:secret"
    assert rest.warehouse == "s3://bucket/wh"


@pytest.mark.parametrize(
    ("key", "flag"),
    [("type", "--catalog-type"), ("uri", "--catalog-uri"), ("s3.endpoint", "--s3-endpoint"),
     ("s3.region", "--s3-region"), ("s3.secret-access-key", "AWS_* keys")],
)  # fmt: skip
def test_a_property_with_its_own_setting_is_refused(key: str, flag: str) -> None:
    with pytest.raises(ValueError, match=flag.replace("*", r"\*")):
        CatalogConfig(ObjectStoreConfig("s3://b"), extra=((key, "x"),))


def test_a_password_in_the_uri_is_not_shown() -> None:
    config = CatalogConfig(ObjectStoreConfig("s3://b"), uri="postgresql://me:p%40ss@db:5432/cat")
    assert config.properties()["uri"] == "postgresql+psycopg://me:p%40ss@db:5432/cat"
    assert (
        config.properties(include_secrets=False)["uri"] == "postgresql+psycopg://me:***@db:5432/cat"
    )
    assert without_password("postgresql://me@db/cat") == "postgresql://me@db/cat"
    assert without_password("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    assert without_password("https://u:t@rest.example/v1") == "https://u:***@rest.example/v1"


def test_secret_property_names() -> None:
    for key in ("credential", "token", "s3.secret-access-key", "glue.access-key-id",
                "adls.account-key", "hive.kerberos-password", "adls.sas-token.acct"):  # fmt: skip
        assert is_secret_property(key), key
    for key in ("uri", "warehouse", "scope", "glue.region", "s3.endpoint", "pool_pre_ping"):
        assert not is_secret_property(key), key


def test_settings_build_the_catalog_and_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_REGION", "sa-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "from-env")
    default = catalog_config(Settings(data_dir=tmp_path))
    assert (default.type, default.uri) == ("sql", f"sqlite:///{tmp_path.resolve()}/catalog.db")
    glue = catalog_config(Settings(
        data_dir=tmp_path, catalog_type="glue", object_store="s3", bucket="b/p/",
        s3_endpoint="127.0.0.1:9000", s3_allow_http=True, s3_request_timeout_seconds=1.5,
        s3_retry_mode="legacy", catalog_properties=(("glue.region", "sa-east-1"),),
    ))  # fmt: skip
    assert glue.uri is None  # no SQLite default outside the SQL catalog
    assert glue.store == ObjectStoreConfig(
        "s3://b/p", endpoint="127.0.0.1:9000", region="sa-east-1", allow_http=True,
        credentials=S3Credentials("from-env"), request_timeout=1.5, retry_mode="legacy",
    )  # fmt: skip
    assert glue.properties()["glue.region"] == "sa-east-1"
    assert glue.server_properties()["s3.retry-strategy-impl"].endswith("AwsDefaultS3RetryStrategy")
    assert "s3.request-timeout" not in glue.properties(include_secrets=False)


def test_the_catalog_types_offered_are_pyiceberg_types() -> None:
    assert set(CATALOG_TYPES) <= {t.value for t in CatalogType}


def test_the_s3_settings_offer_what_the_store_takes() -> None:
    """``flight_iox.config`` stays stdlib-only for ``--help``, so it spells the S3 defaults
    and retry modes again instead of importing them: they must agree."""
    settings = Settings()
    assert settings.s3_request_timeout_seconds == DEFAULT_REQUEST_TIMEOUT
    assert settings.s3_retry_mode == DEFAULT_RETRY_MODE
    (mode,) = [spec for spec in setting_specs() if spec.name == "s3_retry_mode"]
    assert set(mode.option.choices) == set(RETRY_STRATEGIES)
