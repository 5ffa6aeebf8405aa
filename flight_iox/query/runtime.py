"""DataFusion's runtime for the query contexts: a memory pool and a spill folder."""

from __future__ import annotations

import shutil
from pathlib import Path

from datafusion import RuntimeEnvBuilder

from flight_iox.config import QueryLimits


def runtime_env(limits: QueryLimits) -> RuntimeEnvBuilder:
    """DataFusion's runtime for one context: a fair spilling memory pool and a spill folder.

    The fair pool gives each spilling operator (sort, aggregation, join) an equal share and
    makes the rest fail with "Resources exhausted" rather than grow. datafusion-python builds
    one pool per ``SessionContext``, so the limit holds per database context, not per server.
    """
    builder = RuntimeEnvBuilder()
    if limits.memory_limit > 0:
        builder = builder.with_fair_spill_pool(limits.memory_limit)
    if limits.spill_dir is not None:
        builder = builder.with_temp_file_path(limits.spill_dir)
    else:
        builder = builder.with_disk_manager_disabled()
    return builder


def clear_spill_dir(path: Path | None) -> None:
    """Remove spill files a previous process left behind, and make the folder."""
    if path is None:
        return
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
