"""Field sections read without their commas when every line has the first line's keys:
used for such bodies, and never giving an answer the general path or the exact parser
would not give when a line only looks alike."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flight_iox.ingest import fields, parse
from tests.unit.ingest.corpus_support import both_paths


@pytest.fixture
def found(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    """Per call of the one-shape reading: whether it read the lines (else the general path)."""
    calls: list[bool] = []
    one_shape = fields._one_shape

    def spied(*args: object) -> fields.FieldTokens | None:
        tokens = one_shape(*args)  # type: ignore[arg-type]
        calls.append(tokens is not None)
        return tokens

    monkeypatch.setattr(fields, "_one_shape", spied)
    yield calls


def _lines(count: int = 6) -> list[str]:
    return [f"cpu,host=h{n},dc=x user={n}.5,idle={n}i,on=t {n}" for n in range(count)]


def test_lines_of_one_shape_are_read_without_their_commas(found: list[bool]) -> None:
    rows, errors = both_paths("\n".join(_lines()))
    assert found == [True] and not errors and len(rows) == 6
    values = (("idle", "int64", 3), ("on", "bool", True), ("user", "double", 3.5))
    assert rows[3] == ("cpu", (("dc", "x"), ("host", "h3")), values, 3_000_000_000)


@pytest.mark.parametrize(
    "odd",
    [
        "cpu,host=z user=1.5,idlE=2i,on=t 9",  # as long, another byte
        "cpu,host=z user=1.5,xidle=2i,on=t 9",  # a longer key ending the same
        "cpu,host=z user=1.5,dle=2i,on=t 9",  # a shorter key
        "cpu,host=z on=t,user=1.5,idle=2i 9",  # the same keys, another order
        "cpu,host=z xuser=1.5,idle=2i,on=t 9",  # the first key longer
        "cpu,host=z ser=1.5,idle=2i,on=t 9",  # the first key shorter
        "cpu,host=z user=,idle=2i,on=t 9",  # an empty value
    ],
)
def test_a_line_that_only_looks_alike_sends_the_chunk_down_the_general_path(
    found: list[bool], odd: str
) -> None:
    lines = _lines()
    lines[4] = odd
    both_paths("\n".join(lines))
    assert found == [False]


@pytest.mark.parametrize(
    "odd",
    [
        "cpu,host=z user=1,5,idle=2i,on=t 9",  # a comma inside a float
        "cpu,host=z user=1.5,idle=2,3i,on=t 9",  # inside an integer
        "cpu,host=z user=1.5,idle=2i,on=t,x 9",  # inside a boolean
        "cpu,host=z user=1.5,,idle=2i,on=t 9",  # an empty field
    ],
)
def test_a_value_holding_a_comma_is_rejected_as_the_exact_parser_rejects_it(
    found: list[bool], odd: str
) -> None:
    lines = _lines()
    lines[2] = odd
    rows, errors = both_paths("\n".join(lines))
    assert found == [True] and len(rows) == 5 and [line for line, _ in errors] == [3]


@pytest.mark.parametrize(
    "first",
    [
        "cpu,host=a user=1.5,user=2i,on=t 1",  # a key twice in the first line
        "cpu,host=a user==1.5,idle=2i 1",  # malformed, as many "="
    ],
)
def test_a_first_line_that_is_no_model_leaves_the_general_path_to_decide(
    found: list[bool], first: str
) -> None:
    both_paths("\n".join([first, *_lines()[1:]]))
    assert found == [False]


@pytest.mark.parametrize(
    "body",
    [
        "\n".join(line.rpartition(" ")[0] for line in _lines()),  # no times: sections end lines
        "\r\n".join(_lines()) + "\r\n",  # CRLF line endings
        "\n".join(line.replace("dc=x", f"dc=x{n}") for n, line in enumerate(_lines())),  # tags
        "\n".join(line.replace("cpu", "mem", n % 2) for n, line in enumerate(_lines())),  # names
        "\n".join(
            line.replace("cpu,", "cpu,a=1,b=2," if n % 2 else "cpu,")
            for n, line in enumerate(_lines())
        ),
    ],
)
def test_sections_of_one_shape_however_the_lines_end_or_begin(found: list[bool], body: str) -> None:
    rows, errors = both_paths(body)
    assert found == [True] and not errors and len(rows) == 6


def test_each_chunk_has_its_own_first_line(
    found: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parse, "FAST_PATH_CHUNK_LINES", 4)
    lines = _lines(12)
    lines[4:8] = [line.replace("idle=", "nice=") for line in lines[4:8]]  # chunk 2's shape
    lines[9] = lines[9].replace("user=", "uSer=")  # chunk 3 does not confirm
    rows, errors = both_paths("\n".join(lines))
    assert found == [True, True, False] and not errors and len(rows) == 12
