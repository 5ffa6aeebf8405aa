"""Smoke run of bench/parse.py on a little TSBS data: every row is timed, and the ratios of
what is kept between bodies to building it anew are printed (no timings asserted; that both
give the same rows is tests/unit/ingest/test_series_kept.py's and test_field_shapes_kept.py's)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.e2e.bench_smoke import ROOT

GENERATOR = ROOT.parent / "shared" / "tsbs" / "gen_cpu.py"


@pytest.mark.skipif(not GENERATOR.exists(), reason="needs ../shared/tsbs/gen_cpu.py")
def test_parse_bench_smoke() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "parse.py"), "--hosts", "3", "--hours", "1",
         "--body-lines", "500", "--repeat", "2"],
        capture_output=True, text=True, timeout=240, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    rates = re.findall(r"^(fast path|exact path).* ([\d,]+) lines/s", done.stdout, re.M)
    assert len(rates) == 6 and all(int(rate.replace(",", "")) > 0 for _, rate in rates)
    for kept in ("series keys kept parsed", "field-key tilings kept", "everything kept"):
        assert re.search(kept + r" between bodies: [\d.]+x", done.stdout), done.stdout
    assert re.search(r"read without commas: [\d.]+x the general path", done.stdout)
