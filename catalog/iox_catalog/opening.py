"""Open the Iceberg catalog a configuration names, through PyIceberg's ``load_catalog``."""

from __future__ import annotations

import logging
import time

from pyiceberg.catalog import Catalog, load_catalog
from sqlalchemy.exc import IntegrityError, ProgrammingError

from iox_catalog.config import CatalogConfig

log = logging.getLogger(__name__)


def open_catalog(config: CatalogConfig, attempts: int = 5) -> Catalog:
    """The catalog ``config`` names, through PyIceberg's ``load_catalog``.

    PyIceberg merges its own configuration under the same name (``~/.pyiceberg.yaml``,
    ``PYICEBERG_CATALOG__FLIGHT_IOX__*``) beneath these properties: the place for secrets
    such as a REST catalog's credential. The SQL catalog creates its tables when it finds
    none, without locking: when two servers start at once on a new PostgreSQL database,
    one of them fails with a duplicate table or type. By then the tables exist, so opening
    it again works.
    """
    for attempt in range(attempts):
        try:
            return load_catalog(config.name, **config.server_properties())
        except (IntegrityError, ProgrammingError):
            if attempt == attempts - 1:
                raise
            log.info("the catalog tables were being created by another server; retrying")
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")
