"""What a client reads when a query fails: the server's message, never its traceback."""

from __future__ import annotations

import traceback

import pytest
import sqlalchemy as sa

from adbc_driver_flight_iox import dbapi
from adbc_driver_flight_iox._cursor import NO_DATABASE
from flight_iox.flightsql import status
from flight_iox.query import engine


def _assert_clean(message: str) -> None:
    assert "Traceback" not in message
    assert 'File "' not in message
    assert ".py" not in message


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("SELECT * FROM nosuch", "table '{database}.iox.nosuch' not found"),  # GetFlightInfo
        ("SELEC 1", "ParserError"),
        ("SELECT 1 / 0", "Divide by zero"),  # raised while the DoGet stream is read
    ],
)
def test_query_errors_carry_the_message_without_a_traceback(
    flight_uri: str, database: str, query: str, expected: str
) -> None:
    with (
        dbapi.connect(flight_uri, database=database) as conn,
        conn.cursor() as cur,
        pytest.raises(dbapi.ProgrammingError) as caught,
    ):
        cur.execute(query)
        cur.fetchall()
    assert expected.format(database=database) in str(caught.value)
    _assert_clean(str(caught.value))


def test_a_query_without_a_database_says_how_to_set_one(flight_uri: str) -> None:
    with (
        dbapi.connect(flight_uri) as conn,
        conn.cursor() as cur,
        pytest.raises(dbapi.ProgrammingError, match="no database is set") as caught,
    ):
        cur.execute("SELECT * FROM cpu")
    assert "flight_iox://host:port/mydb" in str(caught.value)
    _assert_clean(str(caught.value))


def test_the_dialect_without_a_database_says_how_to_set_one(flight_uri: str) -> None:
    host_port = flight_uri.split("://", 1)[1]
    engine_ = sa.create_engine(f"flight_iox://{host_port}")
    try:
        with engine_.connect() as conn, pytest.raises(sa.exc.ProgrammingError) as caught:
            conn.execute(sa.text("SELECT * FROM cpu"))
    finally:
        engine_.dispose()
    assert "no database is set" in str(caught.value)


def test_a_query_that_needs_no_database_still_runs_without_one(flight_uri: str) -> None:
    with dbapi.connect(flight_uri) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1 AS one")
        assert cur.fetchall() == [(1,)]


def test_the_driver_knows_the_servers_name_for_no_database() -> None:
    assert engine.NO_DATABASE == NO_DATABASE


def test_only_client_messages_lose_their_traceback() -> None:
    """The formatting hook pyarrow calls touches our client exceptions and nothing else."""
    try:
        raise status.InvalidArgument("bad query")
    except status.InvalidArgument as error:
        assert traceback.format_exception(type(error), error, error.__traceback__) == [
            "InvalidArgument"
        ]
    try:
        raise ValueError("a bug")
    except ValueError as error:
        formatted = "".join(traceback.format_exception(error))
    assert formatted.startswith("Traceback (most recent call last):")
    assert formatted.endswith("ValueError: a bug\n")
