"""SQL, DDL, type and identifier compilation for DataFusion SQL.

DataFusion folds unquoted identifiers to lower case (as PostgreSQL does) and
quotes with double quotes. Parameters are ``?`` binds: the server numbers them
``$1..$n`` and types them from the bound values.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.sql import compiler, elements, selectable, sqltypes, visitors

from sqlalchemy_flight_iox.compat import Double
from sqlalchemy_flight_iox.keywords import DATAFUSION_RESERVED


class FlightIoxIdentifierPreparer(compiler.IdentifierPreparer):
    """Double-quoted identifiers; anything not plain lower case, or reserved, is quoted.

    Reserved: SQLAlchemy's generic SQL words and every word DataFusion does not take as a
    bare name (``index`` from pandas' ``to_sql``, ``key``, ``current_date`` ...).
    """

    reserved_words = compiler.RESERVED_WORDS | DATAFUSION_RESERVED


class FlightIoxCompiler(compiler.SQLCompiler):
    """DataFusion's dialect of SELECT."""

    def limit_clause(self, select: selectable.Select[Any], **kw: Any) -> str:
        """``LIMIT n`` and ``OFFSET n``, each only when given (no ``LIMIT -1``)."""
        text = ""
        if select._limit_clause is not None:
            text += "\n LIMIT " + self.process(select._limit_clause, **kw)
        if select._offset_clause is not None:
            text += "\n OFFSET " + self.process(select._offset_clause, **kw)
        return text

    def group_by_clause(self, select: selectable.Select[Any], **kw: Any) -> str:
        """GROUP BY a selected label as its expression, or its position when that has binds.

        The label's name is no choice: DataFusion, like PostgreSQL, reads a GROUP BY name
        as an input column first, so ``date_trunc('minute', time) AS time ... GROUP BY
        time`` (what Superset writes for a time axis) would group by the raw ``time``.
        Rendering an expression with bound parameters again repeats them as new ``?``
        binds, and the planner cannot tell ``date_bin($1, time)`` and ``date_bin($2,
        time)`` are the same group; such a label is grouped by its position instead.
        """
        positions = {id(column): n for n, column in enumerate(select.selected_columns, 1)}
        parts = []
        for clause in select._group_by_clauses:
            position = positions.get(id(clause))
            if isinstance(clause, elements.Label) and position and _has_binds(clause):
                parts.append(str(position))
            else:
                parts.append(self.process(clause, **kw))
        return " GROUP BY " + ", ".join(parts) if parts else ""

    def fetch_clause(
        self,
        select: selectable.Select[Any],
        fetch_clause: Any = None,
        require_offset: bool = False,
        use_literal_execute_for_simple_int: bool = False,
        **kw: Any,
    ) -> str:
        """``FETCH FIRST n ROWS ONLY`` as a LIMIT, which DataFusion understands."""
        fetch = select._fetch_clause if fetch_clause is None else fetch_clause
        options = select._fetch_clause_options or {}
        if options.get("percent") or options.get("with_ties"):
            raise NotImplementedError("DataFusion has no FETCH ... PERCENT or WITH TIES")
        text = "" if fetch is None else "\n LIMIT " + self.process(fetch, **kw)
        if select._offset_clause is not None:
            text += "\n OFFSET " + self.process(select._offset_clause, **kw)
        return text

    def visit_truediv_binary(
        self, binary: elements.BinaryExpression[Any], operator: Any, **kw: Any
    ) -> str:
        """``a / b`` as true division, whatever DataFusion thinks ``b`` is.

        DataFusion divides integers by integers as integers, so the divisor is cast,
        as SQLAlchemy does for such backends: to its own type when that is numeric, to
        NUMERIC when it is an integer. A divisor of unknown type (a function SQLAlchemy
        has no type for, say) becomes DOUBLE rather than bare NUMERIC, which DataFusion
        reads as DECIMAL(38, 10): that truncates a small decimal divisor to zero and
        overflows on one with more than 28 integer digits.
        """
        affinity = binary.right.type._type_affinity
        if affinity in (sqltypes.Numeric, sqltypes.Float):
            divisor_type: sqltypes.TypeEngine[Any] = binary.right.type
        elif affinity is sqltypes.Integer:
            divisor_type = sqltypes.Numeric()
        else:
            divisor_type = Double()
        divisor = elements.Cast(binary.right, divisor_type)
        return f"{self.process(binary.left, **kw)} / {self.process(divisor, **kw)}"

    def visit_now_func(self, fn: elements.FunctionElement[Any], **kw: Any) -> str:
        """``now()``: the query's start time."""
        return "now()"

    def visit_regexp_match_op_binary(
        self, binary: elements.BinaryExpression[Any], operator: Any, **kw: Any
    ) -> str:
        """``x ~ pattern`` (``~*`` with the ``i`` flag)."""
        return self._regexp(binary, "~", **kw)

    def visit_not_regexp_match_op_binary(
        self, binary: elements.BinaryExpression[Any], operator: Any, **kw: Any
    ) -> str:
        """``x !~ pattern`` (``!~*`` with the ``i`` flag)."""
        return self._regexp(binary, "!~", **kw)

    def _regexp(self, binary: elements.BinaryExpression[Any], op: str, **kw: Any) -> str:
        flags = binary.modifiers.get("flags") if binary.modifiers else None
        if flags not in (None, "i"):
            raise NotImplementedError(f"regular expression flags {flags!r}; only 'i' is known")
        if flags == "i":
            op += "*"
        return f"{self.process(binary.left, **kw)} {op} {self.process(binary.right, **kw)}"

    def visit_regexp_replace_op_binary(
        self, binary: elements.BinaryExpression[Any], operator: Any, **kw: Any
    ) -> str:
        """``regexp_replace(x, pattern, replacement[, flags])``."""
        flags = binary.modifiers.get("flags") if binary.modifiers else None
        args = [self.process(binary.left, **kw), self.process(binary.right, **kw)]
        if flags is not None:
            args.append(self.render_literal_value(flags, sqltypes.STRINGTYPE))
        return f"regexp_replace({', '.join(args)})"


def _has_binds(clause: elements.ClauseElement) -> bool:
    return any(isinstance(node, elements.BindParameter) for node in visitors.iterate(clause))


class FlightIoxDDLCompiler(compiler.DDLCompiler):
    """DDL as DataFusion spells it (flight-iox runs CREATE TABLE and DROP TABLE)."""

    def visit_create_index(
        self,
        create: Any,
        include_schema: bool = False,
        include_table_schema: bool = True,
        **kw: Any,
    ) -> str:
        """Nothing: flight-iox has no indexes (the dialect skips the empty statement).

        An index is a hint, and some callers make one unasked (pandas' ``to_sql`` indexes
        its ``index`` column), so it is accepted and not created, as reflection reports.
        """
        return ""

    def visit_drop_index(self, drop: Any, **kw: Any) -> str:
        """Nothing: there is no index to drop."""
        return ""


class FlightIoxTypeCompiler(compiler.GenericTypeCompiler):
    """DataFusion's SQL names of Arrow types, for CAST and DDL."""

    def visit_FLOAT(self, type_: sqltypes.Float[Any], **kw: Any) -> str:
        """DataFusion's FLOAT is 32-bit; Python floats are 64."""
        return "DOUBLE"

    def visit_DOUBLE(self, type_: Double[Any], **kw: Any) -> str:
        """A float64."""
        return "DOUBLE"

    def visit_REAL(self, type_: sqltypes.REAL[Any], **kw: Any) -> str:
        """A float32."""
        return "REAL"

    def visit_UINT64(self, type_: Any, **kw: Any) -> str:
        """An unsigned 64-bit integer."""
        return "BIGINT UNSIGNED"

    def visit_VARCHAR(self, type_: sqltypes.String, **kw: Any) -> str:
        """Arrow strings have no length limit, so none is written."""
        return "VARCHAR"

    def visit_CHAR(self, type_: sqltypes.String, **kw: Any) -> str:
        """Stored as an Arrow string."""
        return "VARCHAR"

    def visit_NVARCHAR(self, type_: sqltypes.String, **kw: Any) -> str:
        """Stored as an Arrow string."""
        return "VARCHAR"

    def visit_NCHAR(self, type_: sqltypes.String, **kw: Any) -> str:
        """Stored as an Arrow string."""
        return "VARCHAR"

    def visit_TEXT(self, type_: sqltypes.Text, **kw: Any) -> str:
        """Stored as an Arrow string."""
        return "VARCHAR"

    def visit_CLOB(self, type_: Any, **kw: Any) -> str:
        """Stored as an Arrow string."""
        return "VARCHAR"

    def visit_BLOB(self, type_: Any, **kw: Any) -> str:
        """Arrow binary."""
        return "BYTEA"

    def visit_large_binary(self, type_: Any, **kw: Any) -> str:
        """Arrow binary."""
        return "BYTEA"

    def visit_datetime(self, type_: sqltypes.DateTime, **kw: Any) -> str:
        """Nanosecond timestamps (with a time zone when the type has one)."""
        return "TIMESTAMP WITH TIME ZONE" if type_.timezone else "TIMESTAMP"

    def visit_TIMESTAMP(self, type_: sqltypes.TIMESTAMP, **kw: Any) -> str:
        """Nanosecond timestamps."""
        return self.visit_datetime(type_, **kw)

    def visit_DATETIME(self, type_: sqltypes.DateTime, **kw: Any) -> str:
        """Nanosecond timestamps."""
        return self.visit_datetime(type_, **kw)

    def visit_interval(self, type_: Any, **kw: Any) -> str:
        """An Arrow month-day-nano interval."""
        return "INTERVAL"
