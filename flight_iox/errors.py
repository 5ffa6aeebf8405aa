"""The one error hierarchy of flight-iox (defined in the leaf ``iox_datamodel.errors``).

The classes live in the leaf package so ``iox_catalog`` can raise them without
importing the server; this module is where server code imports them from.
"""

from __future__ import annotations

from iox_datamodel.errors import *  # noqa: F403
from iox_datamodel.errors import __all__ as __all__
