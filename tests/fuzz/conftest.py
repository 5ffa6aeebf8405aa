"""Hypothesis profiles for the fuzz tests.

``ci`` (the default) is derandomized with a small budget, so the default suite is
deterministic and quick; ``deep`` is for long runs by hand (``HYPOTHESIS_PROFILE=deep``,
see docs/testing.md). Every profile has no deadline: a busy 2-core machine is slow.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    "print_blob": True,
}
settings.register_profile("ci", max_examples=50, derandomize=True, **_COMMON)
settings.register_profile("deep", max_examples=5_000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def budget(ci: int, deep: int) -> int:
    """Examples for a costly test (a server round trip each): ``ci`` or ``deep`` by profile."""
    return deep if os.environ.get("HYPOTHESIS_PROFILE", "ci") == "deep" else ci
