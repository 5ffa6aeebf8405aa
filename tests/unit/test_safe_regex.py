"""User regexes run on RE2: linear time, and a clear error for what RE2 refuses."""

from __future__ import annotations

import pytest

from flight_iox.errors import RegexError
from flight_iox.flightsql.metadata import matches
from flight_iox.safe_regex import regex_fullmatch, regex_search


def test_the_redos_pattern_answers_at_once() -> None:
    assert not regex_search("^(.|.|.|.|.|.|.|.)*!$", "abcdefghi" * 10)
    assert not regex_search("^(a+)+$", "a" * 5000 + "!")


def test_go_regex_semantics() -> None:
    assert regex_search("cpu", "my_cpu_0")
    assert regex_search("(?i)^CPU", "cpu_0")
    assert regex_fullmatch("c.u", "cpu") and not regex_fullmatch("c.u", "cpu0")


@pytest.mark.parametrize("pattern", [r"(a)\1", "(?=a)", "(unclosed"])
def test_refused_patterns_name_the_pattern(pattern: str) -> None:
    with pytest.raises(RegexError, match="invalid regex"):
        regex_search(pattern, "a")


def test_like_filters_with_many_wildcards_answer_at_once() -> None:
    assert not matches("%a" * 40 + "%b", "a" * 200)
    assert matches("c_u%", "cpu_load") and not matches("c_u", "cpu_load")
