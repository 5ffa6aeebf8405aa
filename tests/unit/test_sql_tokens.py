"""The one SQL tokenizer: what fooled the regexes, and properties over generated SQL."""

from __future__ import annotations

import pytest
from datafusion import SessionContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flight_iox.errors import BadRequestError, QueryError
from flight_iox.query.placeholders import rewrite_placeholders
from flight_iox.query.sql_text import (
    first_keyword,
    is_query,
    name_parts,
    parse_change,
    parse_insert,
    statement_target,
)
from flight_iox.sql_quote import quote_identifier
from flight_iox.sql_tokens import TokenType, tokenize, words

FAST = settings(
    derandomize=True,
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def kinds(sql: str) -> list[tuple[str, str]]:
    return [(t.type.name, t.value) for t in tokenize(sql)]


# --- what fooled the regexes ---------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "other/**/.iox.cpu",
        "other /* a /* nested */ comment */ . iox . cpu",
        "other--c\n.iox.cpu",
        '"other".iox."cpu"',
        "`other`.iox.cpu",
    ],
)
def test_names_are_read_through_comments_and_quotes(name: str) -> None:
    assert statement_target(f"DELETE FROM {name}") == ["other", "iox", "cpu"]
    assert name_parts(name) == ["other", "iox", "cpu"]


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("'it''s other.iox.cpu'", "it's other.iox.cpu"),
        ("E'it\\'s other.iox.cpu'", "it's other.iox.cpu"),
        ("$$it's other.iox.cpu$$", "it's other.iox.cpu"),
        ("$tag$ $$ other.iox.cpu $tag$", " $$ other.iox.cpu "),
    ],
)
def test_strings_hide_nothing_and_are_decoded(literal: str, value: str) -> None:
    sql = f"SELECT {literal} AS v FROM mine.iox.cpu"
    assert "other" not in words(sql)
    assert kinds(sql)[1][1] == value
    assert SessionContext().sql(f"SELECT {literal} AS v").to_pylist() == [{"v": value}]


def test_an_e_string_cannot_end_early_to_expose_a_name() -> None:
    # A regex reading '...\' as a whole string would see "other.iox.cpu" as SQL.
    sql = "SELECT E'\\' FROM other.iox.cpu --', 1"
    assert "other" not in words(sql)
    assert [t.type for t in tokenize(sql)][:2] == [TokenType.SELECT, TokenType.BYTE_STRING]


def test_quoted_identifiers_double_their_quote_and_keep_case() -> None:
    assert name_parts('"my ""db""".iox.Cpu') == ['my "db"', "iox", "cpu"]
    assert name_parts('ünï.iox."Tëst"') == ["ünï", "iox", "Tëst"]


def test_first_keyword_skips_comments_and_parentheses() -> None:
    assert first_keyword("/* x */ -- y\n SELECT 1") == "select"
    assert first_keyword("/* /* nested */ DROP */ ((select 1))") == "select"
    assert first_keyword("-- DELETE\n/* DROP */ insert into t values (1)") == "insert"
    assert first_keyword("") == ""
    assert not is_query("/* SELECT */ DELETE FROM t")
    assert is_query("-- DELETE FROM t\nSELECT 1")


@pytest.mark.parametrize(
    ("sql", "target"),
    [
        ("DELETE FROM other/**/.iox.cpu WHERE host = 'a'", ["other", "iox", "cpu"]),
        ('drop table if exists other--x\n.iox."Cpu";', ["other", "iox", "Cpu"]),
        ("CREATE TABLE IF NOT EXISTS t (time TIMESTAMP, v DOUBLE)", ["t"]),
        ("/* c */ INSERT INTO x.iox.t (a) SELECT a FROM other.iox.cpu", ["x", "iox", "t"]),
        ("INSERT INTO $$t$$ VALUES (1)", None),  # a string is no table: refused below
        ("SELECT * FROM other.iox.cpu", None),
        ("DELETE FROM t WHERE", None),
    ],
)
def test_statement_target(sql: str, target: list[str] | None) -> None:
    if sql.startswith("INSERT INTO $$"):
        with pytest.raises(BadRequestError):
            statement_target(sql)
        return
    assert statement_target(sql) == target


def test_parse_change_keeps_the_clause_as_written() -> None:
    change = parse_change("DELETE FROM cpu WHERE host = '--' /* c */ AND v > ?;")
    assert change is not None and change.kind == "delete"
    assert change.clause == "host = '--' /* c */ AND v > ?"
    create = parse_change('CREATE TABLE "T" (time TIMESTAMP, PRIMARY KEY (time))')
    assert create is not None and create.target == ["T"]
    assert create.clause == "(time TIMESTAMP, PRIMARY KEY (time))"
    assert parse_change("CREATE TABLE t AS SELECT 1") is None


def test_insert_query_starts_after_comments_in_the_target() -> None:
    insert = parse_insert('INSERT INTO a/**/.iox.t(x, "Y") /* c */ VALUES (?, ?);')
    assert insert is not None
    assert insert.target == ["a", "iox", "t"] and insert.columns == ["x", "Y"]
    assert insert.query == "VALUES (?, ?)" and insert.values_are_placeholders


def test_placeholders_skip_every_literal_and_comment_form() -> None:
    sql = "SELECT ?, '?', E'\\'?', $$?$$, $q$?$q$, \"?\" /* ? /* ? */ ? */ -- ?\n, ?"
    rewritten, count = rewrite_placeholders(sql)
    assert count == 2
    assert rewritten == sql.replace("SELECT ?", "SELECT $1").replace("\n, ?", "\n, $2")


def test_dollar_placeholders_are_not_dollar_quotes() -> None:
    assert kinds("VALUES ($1,$2,$name)") == [
        ("VALUES", "VALUES"),
        ("L_PAREN", "("),
        ("PARAMETER", "$1"),
        ("COMMA", ","),
        ("PARAMETER", "$2"),
        ("COMMA", ","),
        ("PARAMETER", "$name"),
        ("R_PAREN", ")"),
    ]
    assert rewrite_placeholders("SELECT $1,$2")[1] == 2


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 'abc",
        'SELECT "abc',
        "SELECT $$abc",
        "SELECT 1 /* open /* nested */",
    ],
)
def test_what_datafusion_would_read_otherwise_is_refused(sql: str) -> None:
    with pytest.raises(QueryError, match="SQL syntax error"):
        tokenize(sql)


def test_a_line_comment_ends_at_a_newline_only_as_in_datafusion() -> None:
    sql = "SELECT 1 AS x --c\r, 2 AS y FROM other.iox.cpu"
    assert [t.type for t in tokenize(sql)][-1] == TokenType.VAR  # ... AS x
    assert "other" not in words(sql)
    assert SessionContext().sql(sql).schema().names == ["x"]


def test_no_jinja_comments_and_no_opaque_commands() -> None:
    assert "other" in words("SELECT {# other #} 1")
    assert kinds("SHOW TABLES")[1] == ("VAR", "TABLES")


def test_multi_word_keywords_come_out_word_by_word() -> None:
    tokens = tokenize("SELECT a FROM t GROUP\n  BY a")
    assert [t.word for t in tokens][-3:] == ["group", "by", "a"]
    assert [tokens[-3].start, tokens[-2].start] == [16, 24]


# --- properties ---------------------------------------------------------------------------

# Mostly the characters that end or start strings and comments, some letters and non-ASCII.
_CHARS = st.sampled_from("'\"$-/*\n\\ ?.;") | st.characters(min_codepoint=32, max_codepoint=0x3FF)
_TEXT = st.text(_CHARS, max_size=12)
_NAMES = st.text(_CHARS.filter(lambda c: c != "\x00"), max_size=10)


def _string_literal(value: str, form: int) -> str | None:
    if form == 0:
        return "'" + value.replace("'", "''") + "'"
    if form == 1:
        return "E'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    tag = "" if form == 2 else "t"
    delimiter = f"${tag}$"
    return None if delimiter in value or value.endswith("$") else delimiter + value + delimiter


_COMMENT = _TEXT.map(lambda t: "/*" + t.replace("*/", "").replace("/*", "") + "*/") | _TEXT.map(
    lambda t: "--" + t.replace("\n", "") + "\n"
)


@FAST
@given(st.lists(st.tuples(_TEXT, st.integers(0, 3), _COMMENT), min_size=1, max_size=3))
def test_literals_and_comments_are_never_split(parts: list[tuple[str, int, str]]) -> None:
    pieces, values = ["SELECT"], []
    for value, form, comment in parts:
        literal = _string_literal(value, form)
        if literal is None:
            continue
        pieces += [literal, comment, ","]
        values.append(value)
    pieces.append("1")
    tokens = tokenize(" ".join(pieces))
    assert [t.value for t in tokens if t.literal] == values
    assert [t.type for t in tokens if not t.literal] == [
        TokenType.SELECT,
        *[TokenType.COMMA] * len(values),
        TokenType.NUMBER,
    ]


@FAST
@given(_NAMES, _NAMES, _COMMENT)
def test_quoted_names_round_trip_through_comments(a: str, b: str, comment: str) -> None:
    sql = f"DROP TABLE {quote_identifier(a)}{comment}.iox .{comment}{quote_identifier(b)}"
    assert statement_target(sql) == [a, "iox", b]


@FAST
@given(_TEXT, st.integers(0, 3))
def test_literal_values_agree_with_datafusion(value: str, form: int) -> None:
    literal = _string_literal(value, form)
    if literal is None or "\x00" in value:
        return
    (token,) = tokenize(literal)
    assert SessionContext().sql(f"SELECT {literal} AS v").to_pylist() == [{"v": token.value}]


@FAST
@given(_NAMES.filter(lambda n: n.strip() != ""), _COMMENT)
def test_first_keyword_after_any_comment(name: str, comment: str) -> None:
    assert first_keyword(f"{comment} {comment}\n({quote_identifier(name)})") == ""
    assert first_keyword(f"{comment}\nDELETE FROM {quote_identifier(name)}") == "delete"


@FAST
@given(
    st.sampled_from([" ", "\n ", "\t"]),
    st.sampled_from(["SELECT", "with", "Delete", "GROUP", "double", "x1", "_a", "E", "select1"]),
    st.sampled_from([" ", "\n", "\r\n", "\t"]),
    _TEXT,
)
def test_first_keyword_without_tokenizing_agrees_with_the_tokens(
    lead: str, word: str, space: str, rest: str
) -> None:
    sql = f"{lead}{word}{space}{rest}"
    try:
        tokens = tokenize(sql)
    except QueryError:
        return  # the rest does not read: the engine reports it
    assert first_keyword(sql) == tokens[0].word
