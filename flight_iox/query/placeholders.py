"""Positional ``?`` placeholders, rewritten to DataFusion's ``$1 .. $n``.

Flight SQL clients (ADBC, JDBC, the DB-API) bind parameters by position with
``?``. DataFusion plans ``$n``. The rewrite skips string literals, quoted
identifiers and comments, so a ``?`` inside them is left alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pyarrow as pa

from flight_iox.columns import FieldType
from flight_iox.errors import QueryError
from flight_iox.sql_tokens import TokenType, per_statement, tokenize


@per_statement()
def rewrite_placeholders(sql: str) -> tuple[str, int]:
    """Replace each ``?`` with ``$1, $2, ...``; return the SQL and the parameter count.

    The count is the number of ``?``, or the highest ``$n`` when that is higher.
    Cached per text: a prepared statement is rewritten once; text with neither ``?`` nor
    ``$`` has no placeholder token and is not tokenized.
    """
    if "?" not in sql and "$" not in sql:
        return sql, 0
    count = highest_dollar = 0
    pieces: list[str] = []
    done = 0
    for token in tokenize(sql):
        if token.type is TokenType.PLACEHOLDER:
            count += 1
            pieces += (sql[done : token.start], f"${count}")
            done = token.end
        elif token.type is TokenType.PARAMETER and token.text[1:].isdigit():
            highest_dollar = max(highest_dollar, int(token.text[1:]))
    if not pieces:
        return sql, highest_dollar
    pieces.append(sql[done:])
    return "".join(pieces), max(count, highest_dollar)


_SQL_TYPES: dict[pa.DataType, str] = {
    **{kind.arrow_type: kind.sql_type for kind in FieldType},  # the types of table columns
    pa.null(): "VARCHAR",  # a NULL with no type: text, which every string function takes
    pa.int8(): "TINYINT",
    pa.int16(): "SMALLINT",
    pa.int32(): "INT",
    pa.uint8(): "TINYINT UNSIGNED",
    pa.uint16(): "SMALLINT UNSIGNED",
    pa.uint32(): "INT UNSIGNED",
    pa.float32(): "REAL",
    pa.large_string(): "VARCHAR",
    pa.string_view(): "VARCHAR",
    pa.binary(): "BYTEA",
    pa.large_binary(): "BYTEA",
    pa.date32(): "DATE",
    pa.timestamp("ns"): "TIMESTAMP",
}


def sql_type_of(value: object) -> str | None:
    """The SQL type a parameter value is cast to when its placeholder has no inferable type.

    Arrow scalars keep their type (a typed NULL included); Python values take
    Arrow's inferred type; a NULL with no type is ``VARCHAR``. None for types
    with no plain SQL name (the placeholder is then left as it is).
    """
    try:
        data_type = value.type if isinstance(value, pa.Scalar) else pa.scalar(value).type
    except (pa.ArrowException, TypeError, ValueError):
        return None
    if pa.types.is_dictionary(data_type):
        data_type = data_type.value_type
    if pa.types.is_decimal(data_type):
        return f"DECIMAL({data_type.precision}, {data_type.scale})"
    return _SQL_TYPES.get(data_type)


def cast_placeholders(sql: str, types: dict[int, str | None]) -> str:
    """Wrap each ``$n`` of already-rewritten ``sql`` in ``CAST($n AS types[n])``.

    DataFusion types placeholders from their context while planning, before
    values are bound; where the context says nothing (``$1 || $2``) planning
    fails. The cast gives the placeholder a type; DataFusion names the column
    after ``$n`` still. Placeholders with no entry (or None) are left alone.
    """

    pieces: list[str] = []
    done = 0
    for token in tokenize(sql):
        number = token.text[1:] if token.type is TokenType.PARAMETER else ""
        sql_type = types.get(int(number)) if number.isdigit() else None
        if sql_type:
            pieces += (sql[done : token.start], f"CAST({token.text} AS {sql_type})")
            done = token.end
    pieces.append(sql[done:])
    return "".join(pieces)


def python_value(value: object) -> object:
    """A bound parameter for DataFusion: Arrow scalars as Python values, except a typed
    NULL, which keeps its Arrow type so the placeholder is typed."""
    if not isinstance(value, pa.Scalar):
        return value
    if value.is_valid or pa.types.is_null(value.type) or pa.types.is_dictionary(value.type):
        return value.as_py()
    return value


def parameter_values(
    params: Sequence[object] | Mapping[str, object], count: int, bound: bool
) -> dict[str, object]:
    """DataFusion's ``param_values`` for ``$1..$n`` (a sequence) or ``$name`` (a mapping).

    With ``bound``, a sequence must bind all ``count`` placeholders.
    """
    if isinstance(params, Mapping):
        return {str(k).lstrip("$"): python_value(v) for k, v in params.items()}
    if bound and len(params) < count:
        raise QueryError(f"the query has {count} parameters but {len(params)} were bound")
    return {str(i + 1): python_value(v) for i, v in enumerate(params)}


def typed_placeholders(
    sql: str, params: Sequence[object] | Mapping[str, object], count: int
) -> str:
    """``sql`` (placeholders already ``$n``) with each placeholder cast to its value's type.

    DataFusion types a placeholder from its context while planning, before binding; where
    the context says nothing (``$1 || $2``) planning fails. Casting each placeholder to its
    bound value's type (VARCHAR for an untyped NULL or an unbound placeholder) says it.
    """
    given = params.items() if isinstance(params, Mapping) else enumerate(params, start=1)
    values = {str(k).lstrip("$"): v for k, v in given}
    types = {
        n: sql_type_of(values[str(n)]) if str(n) in values else "VARCHAR"
        for n in range(1, count + 1)
    }
    return cast_placeholders(sql, types)
