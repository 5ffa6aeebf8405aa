"""Fuzz the one SQL tokenizer (``flight_iox/sql_tokens.py``) and what reads SQL through it.

Property: ``tokenize`` and the statement readers (``query/sql_text.py``), the placeholder
rewriting and the expression-depth check return, or raise a flight-iox error (a 400),
for any text; token offsets always point into the text.
"""

from __future__ import annotations

import contextlib

from hypothesis import given
from hypothesis import strategies as st

from flight_iox.errors import FlightIoxError
from flight_iox.query import sql_text
from flight_iox.query.limits import check_expression_depth
from flight_iox.query.placeholders import rewrite_placeholders
from flight_iox.sql_tokens import tokenize
from tests.fuzz.strategies import SQL_SEEDS, SQL_TEXTS, SQL_TOKENS

_MORE_TOKENS = [
    "$$", "$tag$", "E'", "\\", "`", "/* /* */", "*/", "--", "\n", "$", "$a", "::", "[", "]",
    "{", "}", "{#", "#}", "SHOW", "EXECUTE", "INSERT INTO t (a, b)", "DROP TABLE", "x.y.z",
    '"a""b"', "'it''s'", "\x00", "\ud800", "\u2028",
]  # fmt: skip
_TEXTS = (
    SQL_TEXTS
    | st.lists(st.sampled_from(SQL_TOKENS + _MORE_TOKENS), max_size=30).map("".join)
    | st.builds(
        lambda seed, cut, insert: seed[:cut] + insert + seed[cut:],
        st.sampled_from(SQL_SEEDS),
        st.integers(0, 100),
        st.sampled_from(_MORE_TOKENS),
    )
)
_READERS = [
    sql_text.first_keyword,
    sql_text.is_query,
    sql_text.parse_insert,
    sql_text.parse_change,
    sql_text.statement_target,
    rewrite_placeholders,
    lambda sql: check_expression_depth(sql, 5),
]


@given(_TEXTS)
def test_sql_text_is_tokenized_or_refused(sql: str) -> None:
    with contextlib.suppress(FlightIoxError):
        for token in tokenize(sql):
            assert 0 <= token.start <= token.end <= len(sql)
    for read in _READERS:
        with contextlib.suppress(FlightIoxError):
            read(sql)
