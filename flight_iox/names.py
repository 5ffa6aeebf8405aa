"""Name rules for databases, tables and columns (defined in the leaf ``iox_datamodel.names``)."""

from __future__ import annotations

from iox_datamodel.names import *  # noqa: F403
from iox_datamodel.names import __all__ as __all__
