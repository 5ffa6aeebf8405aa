"""The data model: column roles, field types, ``time`` (defined in the leaf ``iox_datamodel``)."""

from __future__ import annotations

from iox_datamodel.columns import *  # noqa: F403
from iox_datamodel.columns import __all__ as __all__
