"""A name holding a lone surrogate (JSON can carry ``"\\ud800"``) is a problem, not a crash."""

from __future__ import annotations

import pytest

from flight_iox.errors import InvalidNameError
from flight_iox.names import identifier_problem, validate_database_name


@pytest.mark.parametrize("name", ["\ud800", "cpu\udfff", "a\ud83d"])
def test_lone_surrogates_are_reported(name: str) -> None:
    """Found by fuzzing: ``identifier_problem`` raised UnicodeEncodeError."""
    assert identifier_problem(name) == f"name {name!r} is not valid Unicode"
    with pytest.raises(InvalidNameError):
        validate_database_name(name)


def test_valid_unicode_names_have_no_problem() -> None:
    assert identifier_problem("température \U0001f321") is None
