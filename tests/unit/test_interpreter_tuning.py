"""The server's interpreter settings: what start-up built is frozen, the switch is short."""

from __future__ import annotations

import json
import subprocess
import sys

from flight_iox.interpreter_tuning import SWITCH_INTERVAL_S

# In a fresh interpreter: the test process's own freeze (tests/conftest.py) would hide a
# missing one, and unfreezing after would undo it.
PROBE = """
import gc, json, sys
from flight_iox.interpreter_tuning import steady_interpreter
before = (gc.get_freeze_count(), sys.getswitchinterval())
steady_interpreter()
print(json.dumps([before, [gc.get_freeze_count(), sys.getswitchinterval()]]))
"""


def test_steady_interpreter_freezes_and_shortens_the_switch() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          timeout=120, check=True)  # fmt: skip
    (frozen_before, switch_before), (frozen_after, switch_after) = json.loads(done.stdout)
    assert frozen_before == 0 and frozen_after > 1_000  # the imported modules' objects
    assert switch_before == 0.005 and switch_after == SWITCH_INTERVAL_S
