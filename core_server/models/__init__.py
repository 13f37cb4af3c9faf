"""Which models exist and where their weights are (no torch needed to read it)."""

from core_server.models.catalog import CatalogError, ModelCatalog, ModelEntry, PullError, UnknownModel

__all__ = ["CatalogError", "ModelCatalog", "ModelEntry", "PullError", "UnknownModel"]
