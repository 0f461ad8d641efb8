"""The MSC criteria catalogs: versioned TOML files loaded into frozen dataclasses (DESIGN.md §6)."""

from portal.catalog.loader import CURRENT_CATALOG_ID, CatalogError, get_catalog

__all__ = ["CURRENT_CATALOG_ID", "CatalogError", "get_catalog"]
