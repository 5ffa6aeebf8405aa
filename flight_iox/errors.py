"""The one error hierarchy of flight-iox (defined in the leaf ``iox_datamodel``).

The classes live in the leaf package so ``iox_catalog`` can raise them without
importing the server; this module is where server code imports them from: the
hierarchy (``errors.py``), the data-file and storage errors (``file_errors.py``) and
each class's statuses (``error_status.py``).
"""

from __future__ import annotations

from iox_datamodel import error_status, errors, file_errors
from iox_datamodel.error_status import *  # noqa: F403
from iox_datamodel.errors import *  # noqa: F403
from iox_datamodel.file_errors import *  # noqa: F403

__all__ = [*errors.__all__, *file_errors.__all__, *error_status.__all__]
