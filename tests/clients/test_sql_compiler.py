"""The dialect's SQL, types and URL handling, without a server."""

from __future__ import annotations

import datetime
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from flight_iox.columns import TAG_TYPE, ColumnRole, role_field
from sqlalchemy_flight_iox import FlightIoxDialect, UInt64, date_bin, date_trunc
from sqlalchemy_flight_iox.reflection import primary_key
from sqlalchemy_flight_iox.types import arrow_type, sqlalchemy_type

DIALECT = FlightIoxDialect()
metadata = sa.MetaData()
cpu = sa.Table(
    "cpu",
    metadata,
    sa.Column("host", sa.String),
    sa.Column("Region", sa.String),
    sa.Column("usage", sa.Float),
    sa.Column("time", sa.DateTime),
)


def sql(statement: sa.ClauseElement) -> str:
    return " ".join(str(statement.compile(dialect=DIALECT)).split())


def test_registered_under_its_entry_point_name() -> None:
    assert type(sa.create_engine("flight_iox://127.0.0.1:1/db").dialect) is FlightIoxDialect


def test_identifiers_quote_case_and_keywords() -> None:
    assert sql(sa.select(cpu.c.host, cpu.c.Region, cpu.c.time)) == (
        'SELECT cpu.host, cpu."Region", cpu.time FROM cpu'
    )


def test_schema_qualified_names() -> None:
    tables = sa.Table("tables", sa.MetaData(), sa.Column("table_name"), schema="system")
    assert sql(sa.select(tables.c.table_name)) == (
        "SELECT system.tables.table_name FROM system.tables"
    )


def test_parameters_are_qmark_binds_never_inlined() -> None:
    statement = sa.select(cpu.c.usage).where(cpu.c.host == "a'; DROP TABLE cpu; --")
    compiled = statement.compile(dialect=DIALECT)
    assert " ".join(str(compiled).split()) == "SELECT cpu.usage FROM cpu WHERE cpu.host = ?"
    assert compiled.positiontup is not None
    assert [compiled.params[name] for name in compiled.positiontup] == ["a'; DROP TABLE cpu; --"]


def test_limit_and_offset_are_binds() -> None:
    assert sql(sa.select(cpu.c.host).limit(10).offset(5)) == (
        "SELECT cpu.host FROM cpu LIMIT ? OFFSET ?"
    )


def test_offset_without_limit_has_no_limit() -> None:
    assert sql(sa.select(cpu.c.host).offset(5)) == "SELECT cpu.host FROM cpu OFFSET ?"


def test_fetch_first_is_a_limit() -> None:
    assert sql(sa.select(cpu.c.host).fetch(3)) == "SELECT cpu.host FROM cpu LIMIT ?"


def test_boolean_literals() -> None:
    assert sql(sa.select(sa.true(), sa.false())) == "SELECT true AS anon_1, false AS anon_2"


def test_date_bin_with_timedelta_is_a_bound_interval() -> None:
    statement = sa.select(date_bin(datetime.timedelta(minutes=5), cpu.c.time).label("bin"))
    compiled = statement.compile(dialect=DIALECT)
    assert " ".join(str(compiled).split()) == "SELECT date_bin(?, cpu.time) AS bin FROM cpu"
    assert list(compiled.params.values()) == ["300000000 microseconds"]
    assert isinstance(date_bin("1 hour", cpu.c.time).type, sa.DateTime)


def test_date_trunc_and_func_namespace() -> None:
    assert isinstance(date_trunc("hour", cpu.c.time).type, sa.DateTime)
    assert sql(sa.select(sa.func.iox.date_trunc("hour", cpu.c.time))) == (
        "SELECT date_trunc(?, cpu.time) AS date_trunc_1 FROM cpu"
    )
    # Other dialects' func.date_bin is left alone.
    assert not isinstance(sa.func.date_bin("1 hour", cpu.c.time).type, sa.DateTime)


def test_group_by_a_selected_label_with_binds_uses_its_position() -> None:
    """Rendering ``date_bin(?, time)`` again would be a second, unrelated bind."""
    bin_ = date_bin(datetime.timedelta(minutes=1), cpu.c.time).label("bin")
    statement = sa.select(bin_, sa.func.avg(cpu.c.usage)).group_by(bin_).order_by(bin_)
    assert sql(statement) == (
        "SELECT date_bin(?, cpu.time) AS bin, avg(cpu.usage) AS avg_1 "
        "FROM cpu GROUP BY 1 ORDER BY bin"
    )


def test_group_by_a_label_that_shadows_a_column_uses_its_expression() -> None:
    """Superset's time axis: ``GROUP BY time`` would group by the raw column."""
    axis = sa.literal_column("date_trunc('minute', time)").label("time")
    statement = sa.select(axis, sa.func.sum(cpu.c.usage)).select_from(cpu).group_by(axis)
    assert sql(statement) == (
        "SELECT date_trunc('minute', time) AS time, sum(cpu.usage) AS sum_1 "
        "FROM cpu GROUP BY date_trunc('minute', time)"
    )


def test_group_by_plain_columns() -> None:
    statement = sa.select(cpu.c.host, sa.func.count()).group_by(cpu.c.host)
    assert sql(statement) == "SELECT cpu.host, count(*) AS count_1 FROM cpu GROUP BY cpu.host"


def test_regexp_match() -> None:
    assert sql(sa.select(cpu.c.host).where(cpu.c.host.regexp_match("^a", flags="i"))) == (
        "SELECT cpu.host FROM cpu WHERE cpu.host ~* ?"
    )
    assert sql(sa.select(cpu.c.host).where(~cpu.c.host.regexp_match("^a"))) == (
        "SELECT cpu.host FROM cpu WHERE cpu.host !~ ?"
    )


def test_cast_type_names() -> None:
    assert sql(sa.select(sa.cast(cpu.c.host, sa.String(20)))) == (
        "SELECT CAST(cpu.host AS VARCHAR) AS host FROM cpu"
    )
    assert sql(sa.select(sa.cast(cpu.c.host, sa.Float))) == (
        "SELECT CAST(cpu.host AS DOUBLE) AS host FROM cpu"
    )
    assert sql(sa.select(sa.cast(cpu.c.host, UInt64()))) == (
        "SELECT CAST(cpu.host AS BIGINT UNSIGNED) AS host FROM cpu"
    )


def test_true_division_casts_the_divisor() -> None:
    count = sa.Column("n", sa.BigInteger)
    price = sa.Column("p", sa.Numeric(38, 20))
    assert sql(sa.select(count / 2)) == "SELECT n / CAST(? AS NUMERIC) AS anon_1"
    assert sql(sa.select(price / price)) == "SELECT p / CAST(p AS NUMERIC(38, 20)) AS anon_1"
    assert sql(sa.select(cpu.c.usage / cpu.c.usage)) == (
        "SELECT cpu.usage / CAST(cpu.usage AS DOUBLE) AS anon_1 FROM cpu"
    )
    # Of unknown type, the divisor is a float64: bare NUMERIC is DECIMAL(38, 10) in DataFusion.
    assert sql(sa.select(price / sa.func.nullif(price, 0))) == (
        "SELECT p / CAST(nullif(p, ?) AS DOUBLE) AS anon_1"
    )
    assert sql(sa.select(count // 2)) == "SELECT n / ? AS anon_1"


def test_statement_cache_is_on() -> None:
    assert DIALECT.supports_statement_cache
    statement = sa.select(date_bin(datetime.timedelta(minutes=5), cpu.c.time))
    assert statement._generate_cache_key() is not None


@pytest.mark.parametrize(
    ("arrow", "expected"),
    [
        (pa.timestamp("ns"), sa.DateTime),
        (pa.int64(), sa.BigInteger),
        (pa.float64(), sa.Float),
        (pa.uint64(), UInt64),
        (pa.bool_(), sa.Boolean),
        (pa.string(), sa.String),
        (TAG_TYPE, sa.String),
        (pa.null(), sa.types.NullType),
    ],
)
def test_arrow_to_sqlalchemy_types(arrow: pa.DataType, expected: type) -> None:
    assert isinstance(sqlalchemy_type(arrow), expected)


def test_timezone_follows_the_arrow_type() -> None:
    assert sqlalchemy_type(pa.timestamp("ns", tz="UTC")).timezone is True
    assert sqlalchemy_type(pa.timestamp("ns")).timezone is False


def test_ingest_types_from_sqlalchemy() -> None:
    assert arrow_type(sa.DateTime()) == pa.timestamp("ns")
    assert arrow_type(UInt64()) == pa.uint64()
    assert arrow_type(sa.Integer()) == pa.int64()
    assert arrow_type(sa.Boolean()) == pa.bool_()


def test_primary_key_is_tags_then_time() -> None:
    schema = pa.schema(
        [
            role_field("usage", pa.float64(), ColumnRole.FIELD),
            role_field("region", TAG_TYPE, ColumnRole.TAG),
            role_field("host", TAG_TYPE, ColumnRole.TAG),
            role_field("time", pa.timestamp("ns"), ColumnRole.TIME),
        ]
    )
    assert primary_key(schema) == ["host", "region", "time"]
    assert primary_key(pa.schema([("table_name", pa.string())])) == []


@pytest.mark.parametrize(
    ("url", "uri", "kwargs"),
    [
        ("flight_iox://h:9/db", "grpc://h:9", {"database": "db", "token": None}),
        ("flight_iox://:tok@h/db", "grpc://h:8182", {"database": "db", "token": "tok"}),
        ("flight_iox://h:9/db?tls=true", "grpc+tls://h:9", {"database": "db", "token": None}),
        ("flight_iox://", "grpc://127.0.0.1:8182", {"database": None, "token": None}),
    ],
)
def test_connect_args(url: str, uri: str, kwargs: dict[str, object]) -> None:
    assert FlightIoxDialect().create_connect_args(make_url(url)) == ([uri], kwargs)


def test_connect_args_tls_files() -> None:
    url = make_url("flight_iox://h:9/db?tls=1&tls_root_certs=/ca.pem&tls_skip_verify=true")
    assert FlightIoxDialect().create_connect_args(url)[1] == {
        "database": "db",
        "token": None,
        "tls_root_certs": Path("/ca.pem"),
        "tls_skip_verify": True,
    }


def test_unknown_url_option_is_refused() -> None:
    with pytest.raises(sa.exc.ArgumentError, match="colour"):
        FlightIoxDialect().create_connect_args(make_url("flight_iox://h/db?colour=red"))


def test_indexes_compile_to_nothing() -> None:
    """flight-iox has no indexes; pandas' to_sql asks for one on its index column."""
    index = sa.Index("ix_cpu_host", cpu.c.host)
    assert str(sa.schema.CreateIndex(index).compile(dialect=DIALECT)) == ""
    assert str(sa.schema.DropIndex(index).compile(dialect=DIALECT)) == ""


def test_reserved_words_are_quoted() -> None:
    table = sa.Table("t", sa.MetaData(), sa.Column("index"), sa.Column("key"), sa.Column("time"))
    assert sql(sa.select(table)) == 'SELECT t."index", t."key", t.time FROM t'
