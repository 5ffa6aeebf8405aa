"""Run mypy over the shipped packages and compare with the baseline, which may only shrink.

``python .ci/mypy_baseline.py`` fails when mypy reports more errors than
``.ci/mypy-baseline.txt`` lists, and prints the errors that are new and those that are
gone. ``--update`` rewrites the baseline (do it when the count went down). Errors are
kept without line numbers, so unrelated edits that move code do not show as changes.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / ".ci" / "mypy-baseline.txt"
TARGETS = ["flight_iox", "catalog", "clients"]
ERROR = re.compile(r"^(?P<path>[^:]+):\d+(?::\d+)?: error: (?P<message>.*)$")


def current_errors() -> list[str]:
    """mypy's errors as ``path: message  [code]``, sorted."""
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-color-output", "--no-error-summary", *TARGETS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode not in (0, 1):  # 2: mypy itself failed (bad config, crash)
        sys.exit(f"mypy failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    errors = []
    for line in done.stdout.splitlines():
        match = ERROR.match(line)
        if match:
            errors.append(f"{match['path']}: {match['message']}")
    return sorted(errors)


def main() -> int:
    errors = current_errors()
    if "--update" in sys.argv:
        BASELINE.write_text("".join(f"{e}\n" for e in errors))
        print(f"mypy baseline: {len(errors)} errors written to {BASELINE.relative_to(ROOT)}")
        return 0
    baseline = [line for line in BASELINE.read_text().splitlines() if line.strip()]
    now, before = Counter(errors), Counter(baseline)
    new, gone = now - before, before - now
    for error in sorted(new.elements()):
        print(f"+ {error}")
    for error in sorted(gone.elements()):
        print(f"- {error}")
    print(f"mypy: {len(errors)} errors (baseline {len(baseline)})")
    if len(errors) > len(baseline):
        print("mypy: more errors than the baseline: fix the new ones (lines with +)")
        return 1
    if len(errors) < len(baseline):
        print("mypy: fewer errors than the baseline: shrink it (.ci/mypy_baseline.py --update)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
