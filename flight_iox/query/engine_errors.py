"""Which exceptions are DataFusion's or Arrow's verdict on a query, and which are our bugs.

datafusion-python (55) raises a planning error (bad SQL, an unknown column or
table) as ``ValueError`` and an execution error (divide by zero, a failed cast,
an unbound placeholder) as a bare ``Exception``: its ``DataFusionError`` becomes
``PyException`` itself, not a subclass. pyarrow raises ``pa.ArrowException``
subclasses. Those are the user's 400 / INVALID_ARGUMENT. Anything else out of
the engine (``KeyError``, ``TypeError``, ``AttributeError``, ...) is a bug of
ours and must reach the transport, which answers 500 / INTERNAL and logs the
traceback, so a site catches ``Exception`` only to re-raise what this refuses.
"""

from __future__ import annotations

import pyarrow as pa


def is_engine_error(error: BaseException) -> bool:
    """Whether DataFusion or Arrow raised ``error`` about the query (not a bug of ours)."""
    return type(error) is Exception or isinstance(error, ValueError | pa.ArrowException)


def engine_message(error: Exception) -> str:
    """DataFusion's message without its own prefixes."""
    message = str(error)
    for prefix in ("DataFusion error: ", "Error during planning: "):
        message = message.removeprefix(prefix)
    return message.strip()
