"""The Iceberg-backed catalog of flight-iox: databases, tables, schemas, files, retention."""

from iox_catalog.catalog import IoxCatalog, StoredTable
from iox_catalog.config import CatalogConfig
from iox_catalog.files import DataFile, TableFiles

__all__ = ["CatalogConfig", "DataFile", "IoxCatalog", "StoredTable", "TableFiles"]
