"""The InfluxQL texts of the authorization matrix, one ``Row`` each, and what every token
gets for them (``test_auth_influxql`` turns each row into one case per route and token).
"""

from __future__ import annotations

from dataclasses import dataclass, field

ROUTES = ("v1-get", "v1-post", "v3-post", "v3-get", "flight")
READ_ONLY_ROUTES = ("v1-get", "v3-get", "flight")
# v1 /query answers a statement's error inside a 200 (as InfluxDB 1.x); the cells tell it
# apart from a clean 200 with this pseudo-status.
V1_STATEMENT_ERROR = 299
# Statuses by token: read-mine, write-mine, admin (none and wrong always get 401).
ONLY_ADMIN = "403 403 200"
READABLE = "200 403 200"
ADMIN_UNSUPPORTED = "403 403 501"  # authorized for admins, not served (v1: a statement error)
AMBIGUOUS = "400 400 400"


@dataclass(frozen=True)
class Row:
    """One InfluxQL text; ``{n}`` is replaced by a name unique to the case."""

    way: str
    q: str
    expect: str  # read, write, admin
    db: str | None = "mine"
    changes: bool = False  # changes data: refused on GET and Flight
    admin_q: str | None = None  # the admin's text when ``q`` would change ``other``
    routes: tuple[str, ...] = ROUTES
    extra: dict[str, str] = field(default_factory=dict)  # "body:db" / "query:db" (HTTP)


ROWS = [
    Row("own database", "SELECT * FROM cpu", READABLE),
    Row("query param db", "SELECT * FROM cpu", ONLY_ADMIN, db="other"),
    Row("FROM db..m", "SELECT * FROM other..cpu", ONLY_ADMIN),
    Row("FROM quoted db.rp.m", 'SELECT * FROM "other"."autogen"."cpu"', ONLY_ADMIN),
    Row("regex source", "SELECT * FROM other../c.u/", ONLY_ADMIN),
    Row("regex source, default db", "SELECT * FROM /c.u/", ONLY_ADMIN, db="other"),
    Row("subquery", "SELECT usage FROM (SELECT * FROM other..cpu)", ONLY_ADMIN),
    Row("second source", "SELECT * FROM mine..cpu, other..cpu", ONLY_ADMIN),
    Row("no db, qualified", "SELECT * FROM other..cpu", ONLY_ADMIN, db=None),
    Row(
        "INTO other",
        'SELECT * INTO "other".."stolen" FROM mine..cpu',
        ONLY_ADMIN,
        changes=True,
        admin_q='SELECT * INTO "mine".."copied_{n}" FROM mine..cpu',
    ),
    Row(
        "INTO own database",  # the reader may not write, the writer may not read
        "SELECT * INTO mine..copied FROM mine..cpu",
        ONLY_ADMIN,
        changes=True,
    ),
    Row(
        "INTO own, reading other",
        "SELECT * INTO mine..stolen FROM other..cpu",
        ONLY_ADMIN,
        changes=True,
    ),
    Row("ON other (measurements)", "SHOW MEASUREMENTS ON other", ONLY_ADMIN),
    Row("ON other (series)", "SHOW SERIES ON other", ONLY_ADMIN),
    Row("ON other (tag values)", 'SHOW TAG VALUES ON other WITH KEY = "host"', ONLY_ADMIN),
    Row("ON other (field keys)", "SHOW FIELD KEYS ON other", ONLY_ADMIN),
    Row("ON other (retention)", "SHOW RETENTION POLICIES ON other", ONLY_ADMIN),
    Row("SHOW default db", "SHOW MEASUREMENTS", ONLY_ADMIN, db="other"),
    Row("SHOW FROM db..m", "SHOW TAG KEYS FROM other..cpu", ONLY_ADMIN),
    Row("SHOW DATABASES", "SHOW DATABASES", "200 200 200"),
    Row("CREATE DATABASE", "CREATE DATABASE made_{n}", ONLY_ADMIN, changes=True),
    Row(
        "DROP DATABASE",
        "DROP DATABASE other",
        ONLY_ADMIN,
        changes=True,
        admin_q="DROP DATABASE gone_{n}",
    ),
    Row(
        "DROP MEASUREMENT",
        "DROP MEASUREMENT cpu",
        ONLY_ADMIN,
        db="other",
        changes=True,
        admin_q="DROP MEASUREMENT mine..m_{n}",
    ),
    Row(
        "DELETE",
        "DELETE FROM cpu WHERE time > 0",
        ONLY_ADMIN,
        db="other",
        changes=True,
        admin_q="DELETE FROM mine..m_{n} WHERE time > 0",
    ),
    Row(
        "DELETE db..m",
        "DELETE FROM other..cpu",
        ONLY_ADMIN,
        changes=True,
        admin_q="DELETE FROM mine../m_{n}/",
    ),
    Row(
        "DROP SERIES",
        "DROP SERIES FROM cpu WHERE host = 'b'",
        ONLY_ADMIN,
        db="other",
        changes=True,
        admin_q="DROP SERIES FROM mine..m_{n} WHERE host = 'x'",
    ),
    Row(  # a second, non-default policy cannot map: refused after the admin check
        "CREATE RETENTION POLICY",
        "CREATE RETENTION POLICY rp ON other DURATION 1d REPLICATION 1",
        "403 403 400",
        changes=True,
    ),
    Row(
        "ALTER RETENTION POLICY",
        "ALTER RETENTION POLICY autogen ON other DURATION 2h",
        ONLY_ADMIN,
        changes=True,
        admin_q="ALTER RETENTION POLICY autogen ON mine DURATION INF",
    ),
    Row(
        "DROP RETENTION POLICY",
        "DROP RETENTION POLICY autogen ON other",
        ONLY_ADMIN,
        changes=True,
        admin_q="DROP RETENTION POLICY not_mine_{n} ON mine",
    ),
    Row("SHOW USERS", "SHOW USERS", ONLY_ADMIN),
    Row(
        "CREATE CONTINUOUS QUERY ON other",
        "CREATE CONTINUOUS QUERY c ON other BEGIN SELECT count(usage) INTO m FROM cpu "
        "GROUP BY time(1h) END",
        ONLY_ADMIN,
        changes=True,
        admin_q="CREATE CONTINUOUS QUERY c_{n} ON mine BEGIN SELECT count(usage) "
        "INTO cq_{n} FROM cpu GROUP BY time(1h) END",
    ),
    Row(
        "CONTINUOUS QUERY reading other",
        "CREATE CONTINUOUS QUERY c_{n} ON mine BEGIN SELECT count(usage) INTO m "
        "FROM other..cpu GROUP BY time(1h) END",
        ONLY_ADMIN,
        changes=True,
    ),
    Row(
        "DROP CONTINUOUS QUERY",
        "DROP CONTINUOUS QUERY c ON other",
        "403 403 404",
        changes=True,
    ),
    Row(  # over HTTP only: Flight's InfluxQL has no database settings (501 there)
        "SHOW CONTINUOUS QUERIES",
        "SHOW CONTINUOUS QUERIES",
        "200 200 200",
        routes=("v1-get", "v1-post", "v3-post", "v3-get"),
    ),
    Row("CREATE USER", "CREATE USER u WITH PASSWORD 'p'", ADMIN_UNSUPPORTED, changes=True),
    Row(
        "second statement",
        "SELECT * FROM mine..cpu; DROP DATABASE other",
        ONLY_ADMIN,
        changes=True,
        admin_q="SELECT * FROM mine..cpu; DROP DATABASE gone_{n}",
    ),
    # The same parameter in two places with different values: 400, whoever asks.
    Row(
        "form body db differs",
        "SELECT 1",
        AMBIGUOUS,
        routes=("v1-post",),
        extra={"body:db": "other"},
    ),
    Row(
        "JSON body db differs",
        "SELECT 1",
        AMBIGUOUS,
        routes=("v3-post",),
        extra={"body:db": "other"},
    ),
    Row(
        "query string db twice",
        "SELECT 1",
        AMBIGUOUS,
        routes=("v1-get", "v1-post", "v3-post", "v3-get"),
        extra={"query:db": "other"},
    ),
    # The database only in the body.
    Row(
        "form body db",
        "SELECT * FROM cpu",
        ONLY_ADMIN,
        db=None,
        routes=("v1-post",),
        extra={"body:db": "other"},
    ),
    Row(
        "JSON body db",
        "SELECT * FROM cpu",
        ONLY_ADMIN,
        db=None,
        routes=("v3-post",),
        extra={"body:db": "other"},
    ),
]
