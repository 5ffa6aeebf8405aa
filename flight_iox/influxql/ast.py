"""The InfluxQL syntax tree: frozen dataclasses, built by the parser, read by the planner."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union


@dataclass(frozen=True)
class VarRef:
    """A column reference, optionally cast with ``::field``, ``::tag``, ``::float``, ..."""

    name: str
    cast: str | None = None


@dataclass(frozen=True)
class Wildcard:
    """``*``, ``*::field`` or ``*::tag``."""

    kind: str | None = None


@dataclass(frozen=True)
class RegexLit:
    """``/pattern/``: Python ``re`` syntax is close enough to Go's RE2 for InfluxQL use."""

    pattern: str


@dataclass(frozen=True)
class StringLit:
    """A single-quoted string."""

    value: str


@dataclass(frozen=True)
class NumberLit:
    """A float or integer literal; ``is_integer`` keeps InfluxQL's typing."""

    value: float | int
    is_integer: bool = False


@dataclass(frozen=True)
class BoolLit:
    """``true`` or ``false``."""

    value: bool


@dataclass(frozen=True)
class DurationLit:
    """A duration like ``10s`` or ``1h30m``, in nanoseconds."""

    nanos: int


@dataclass(frozen=True)
class Call:
    """A function call; ``count(DISTINCT x)`` is ``count(distinct(x))``."""

    name: str
    args: tuple[Expr, ...] = ()


@dataclass(frozen=True)
class BinaryExpr:
    """``lhs op rhs``; ``op`` is the operator text, keywords lower-cased (``and``, ``or``)."""

    op: str
    lhs: Expr
    rhs: Expr


@dataclass(frozen=True)
class Paren:
    """A parenthesised expression (kept so names like ``mean_mean`` stay InfluxDB's)."""

    expr: Expr


Expr = Union[  # noqa: UP007 - a runtime alias used in isinstance-free annotations
    VarRef, Wildcard, RegexLit, StringLit, NumberLit, BoolLit, DurationLit, Call, BinaryExpr, Paren
]


@dataclass(frozen=True)
class Field:
    """One item of the SELECT list."""

    expr: Expr
    alias: str | None = None


@dataclass(frozen=True)
class Measurement:
    """A FROM source: a name or a regex, with the optional database and retention policy."""

    name: str | None = None
    regex: str | None = None
    database: str | None = None
    retention_policy: str | None = None


@dataclass(frozen=True)
class SubQuery:
    """A parenthesised SELECT used as a FROM source."""

    statement: SelectStatement


Source = Union[Measurement, SubQuery]  # noqa: UP007


@dataclass(frozen=True)
class Fill:
    """``fill(...)``: ``null`` (the default), ``none``, ``previous``, ``linear`` or a number."""

    kind: str = "null"
    value: float | int | None = None


@dataclass(frozen=True)
class SelectStatement:
    """A SELECT statement, with every clause InfluxQL allows."""

    fields: tuple[Field, ...]
    sources: tuple[Source, ...]
    into: Measurement | None = None
    condition: Expr | None = None
    dimensions: tuple[Expr, ...] = ()
    fill: Fill = field(default_factory=Fill)
    descending: bool = False
    limit: int = 0
    offset: int = 0
    slimit: int = 0
    soffset: int = 0
    timezone: str | None = None


@dataclass(frozen=True)
class ShowStatement:
    """Every SHOW statement: ``kind`` says which (``measurements``, ``tag values``, ...).

    Not every clause applies to every kind; the parser only fills those the kind allows.
    """

    kind: str
    database: str | None = None
    sources: tuple[Source, ...] = ()
    condition: Expr | None = None
    measurement: Expr | None = None  # WITH MEASUREMENT = name | =~ /regex/ (a BinaryExpr)
    key_op: str | None = None  # WITH KEY =, !=, =~, !~, in
    key_values: tuple[str, ...] = ()
    key_regex: str | None = None
    limit: int = 0
    offset: int = 0
    exact: bool = False


@dataclass(frozen=True)
class DatabaseStatement:
    """``CREATE DATABASE name`` or ``DROP DATABASE name``."""

    action: str
    name: str


@dataclass(frozen=True)
class DeleteStatement:
    """``DROP MEASUREMENT m``, ``DROP SERIES [FROM ...] [WHERE ...]``, ``DELETE [FROM ...] ...``.

    ``kind`` is ``drop measurement``, ``drop series`` or ``delete``; each source's database
    (or the query's) needs the ``delete`` action.
    """

    kind: str
    sources: tuple[Source, ...] = ()
    condition: Expr | None = None


@dataclass(frozen=True)
class RetentionPolicyStatement:
    """``CREATE|ALTER|DROP RETENTION POLICY name ON db [DURATION d] [REPLICATION n]
    [SHARD DURATION d] [DEFAULT]``; ``duration`` 0 is ``INF``, None when not given."""

    action: str
    name: str
    database: str | None = None
    duration: int | None = None
    replication: int | None = None
    shard_duration: int | None = None
    default: bool = False


@dataclass(frozen=True)
class ContinuousQueryStatement:
    """``CREATE CONTINUOUS QUERY name ON db [RESAMPLE [EVERY d] [FOR d]] BEGIN select END``,
    ``DROP CONTINUOUS QUERY name ON db`` (``select`` None).

    ``text`` is the whole CREATE statement as written: what is stored and shown.
    """

    action: str
    name: str
    database: str
    select: SelectStatement | None = None
    every: int = 0
    for_: int = 0
    text: str = ""


@dataclass(frozen=True)
class AdminStatement:
    """Users, grants, continuous queries, subscriptions, shards, queries: admin tokens only.

    ``kind`` names it (``show users``, ``create user``, ``grant``, ...); none is served yet.
    """

    kind: str


@dataclass(frozen=True)
class SubscriptionStatement:
    """``CREATE|DROP SUBSCRIPTION name ON db.rp ...`` and ``SHOW SUBSCRIPTIONS`` (admin only).

    ``action`` is ``create``, ``drop`` or ``show``; ``mode`` (``ALL``/``ANY``) and
    ``destinations`` are CREATE's.
    """

    action: str
    name: str = ""
    database: str = ""
    retention_policy: str | None = None
    mode: str = ""
    destinations: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExplainStatement:
    """``EXPLAIN [ANALYZE] SELECT ...`` (answered with an error: plans are DataFusion's)."""

    statement: SelectStatement
    analyze: bool = False


Statement = Union[  # noqa: UP007
    SelectStatement,
    ShowStatement,
    DatabaseStatement,
    DeleteStatement,
    RetentionPolicyStatement,
    ContinuousQueryStatement,
    AdminStatement,
    SubscriptionStatement,
    ExplainStatement,
]
