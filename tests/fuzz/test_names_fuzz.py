"""Fuzz the name rules (``flight_iox/names.py``).

Properties: a database name is accepted or refused with ``InvalidNameError``, and an
accepted one stays inside its folder; a table or column name's problem is reported
as text, never raised; a quoted identifier reads back as exactly the name in SQL.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

import datafusion
from hypothesis import assume, given
from hypothesis import strategies as st

from flight_iox.errors import InvalidNameError
from flight_iox.names import (
    MAX_SEGMENT_CHARS,
    identifier_problem,
    path_segment,
    validate_column_name,
    validate_database_name,
    validate_table_name,
)
from flight_iox.sql_quote import quote_identifier

_TRICKY = st.sampled_from(
    ["..", ".", "../x", "a/b", "a\\b", "/abs", "~", "a\x00", "", " ", "con", "a" * 65, "a" * 64,
     "system", "SYSTEM", "iox", "-a", "_a", "a-b_c", "é", "\ud800", "a\n", "%2e%2e", "a.b"]
)  # fmt: skip
_NAMES = st.text(max_size=80) | _TRICKY | st.text(alphabet="abc./\\-_~%0 ", max_size=12)


@given(_NAMES)
def test_database_names_are_accepted_or_refused_and_stay_in_their_folder(name: str) -> None:
    try:
        accepted = validate_database_name(name)
    except InvalidNameError as error:
        assert "database name" in error.message
        return
    assert accepted == name
    root = PurePosixPath("/warehouse")
    path = root / accepted
    assert path.parent == root and path.name == accepted
    assert "/" not in accepted and "\\" not in accepted and "." not in accepted
    assert accepted.isascii() and accepted.isprintable()


@given(_NAMES)
def test_identifier_problems_are_text_not_exceptions(name: str) -> None:
    problem = identifier_problem(name)
    assert problem is None or isinstance(problem, str)
    if problem is None:
        assert name and not any(ord(c) < 0x20 or ord(c) == 0x7F for c in name)
        assert len(name.encode()) <= 512


_CONTEXT = datafusion.SessionContext()


@given(st.text(min_size=1, max_size=40))
def test_quoted_identifiers_read_back_exactly(name: str) -> None:
    assume(identifier_problem(name) is None)
    schema = _CONTEXT.sql(f"SELECT 1 AS {quote_identifier(name)}").schema()
    assert schema.names == [name]


_SEGMENT = re.compile(rf"[A-Za-z0-9_~-]{{1,{MAX_SEGMENT_CHARS}}}")
_ESCAPE = re.compile(r"~([0-9A-F]{2})")


@given(_NAMES)
def test_table_names_become_one_safe_path_segment(name: str) -> None:
    try:
        validate_table_name(name)
        validate_column_name(name)
    except InvalidNameError as error:
        assert identifier_problem(name) is not None and "invalid" in error.message
        return
    segment = path_segment(name)
    assert _SEGMENT.fullmatch(segment) and segment not in (".", "..")
    decoded = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), segment).encode("latin-1")
    assert name.encode().startswith(decoded)  # exact unless cut at MAX_SEGMENT_CHARS
    if len(segment) <= MAX_SEGMENT_CHARS - 3:
        assert decoded == name.encode()
