"""The fast path and the exact parser agree on generated simple (and not so simple) lines."""

from __future__ import annotations

import random

from flight_iox.ingest import Precision
from flight_iox.ingest.parse import parse_body
from tests.unit.ingest.corpus_support import points

_VALUES = ["1", "-2.5", "1e3", ".5", "3i", "-4i", "5u", "t", "FALSE", "True", "x", "1.2.3",
           "9223372036854775808i", "-1u", "1e999", "--1i", "TRUE"]  # fmt: skip


def _body(rng: random.Random, lines: int) -> str:
    out = []
    for _ in range(lines):
        name = rng.choice(["cpu", "mem", "disk"])
        tags = "".join(
            f",{k}={rng.choice(['a', 'b', 'c'])}"
            for k in rng.sample(["h", "r", "z"], rng.randint(0, 3))
        )
        fields = ",".join(
            f"{k}={rng.choice(_VALUES)}"
            for k in rng.sample(["u", "v", "w", "x"], rng.randint(1, 4))
        )
        stamp = rng.choice(["", f" {rng.randint(-(10**18), 10**18)}", " 9999999999999999999", " 1"])
        out.append(f"{name}{tags} {fields}{stamp}")
    return "\n".join(out)


def test_generated_bodies_agree() -> None:
    rng = random.Random(20240501)
    for _ in range(40):
        body = _body(rng, rng.randint(1, 60))
        routed = parse_body(body, precision=Precision.MILLISECOND, default_time_ns=7)
        exact = parse_body(
            body, precision=Precision.MILLISECOND, default_time_ns=7, fast_path=False
        )
        assert points(routed) == points(exact), body
        assert [(e.line_number, e.message) for e in routed.errors] == [
            (e.line_number, e.message) for e in exact.errors
        ], body
