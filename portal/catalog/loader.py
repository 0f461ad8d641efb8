"""Read and validate the MSC catalog TOML files in `portal/catalog/data/` (DESIGN.md §6).

`validate_catalog_file` reports every problem in a file at once, so whoever edits the criteria
fixes them in one pass instead of one start-up failure at a time. `load_catalog` raises
`CatalogError` with that same list. `get_catalog` loads a version once per process. The checks of
the file's content are in `portal/catalog/parser.py`.

File layout: header keys `id`, `title`, `effective_date`, `answer_scale`, then arrays of tables
`[[focus_areas]]`, `[[categories]]` and `[[criteria]]`. A criterion's `applies_to` is either
"CORE" (all business types) or a list of `BusinessType` values. Long texts may be wrapped over
several lines: whitespace in text fields is collapsed to single spaces.
"""

from __future__ import annotations

import functools
import os
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from portal.catalog.parser import CORE, parse_catalog
from portal.catalog.schema import Catalog

__all__ = [
    "CORE",
    "CURRENT_CATALOG_ID",
    "DATA_DIR",
    "CatalogError",
    "available_catalogs",
    "get_catalog",
    "load_catalog",
    "validate_catalog_file",
]

CURRENT_CATALOG_ID: Final = "msc-2023"
DATA_DIR: Final = Path(__file__).resolve().parent / "data"


class CatalogError(Exception):
    """A catalog file is unreadable or invalid; `problems` lists every problem found."""

    def __init__(self, problems: Sequence[str], source: str | None = None) -> None:
        self.problems: list[str] = list(problems)
        self.source = source
        where = f" {source}" if source else ""
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"invalid catalog{where} ({len(self.problems)} problems):\n{lines}")


def validate_catalog_file(path: str | os.PathLike[str]) -> list[str]:
    """Return human-readable problems with a catalog file; an empty list means it is valid."""
    return _read(Path(path))[1]


def load_catalog(path: str | os.PathLike[str]) -> Catalog:
    """Parse and validate a catalog file.

    :raise CatalogError: the file cannot be read or has problems (all of them are listed).
    """
    catalog, problems = _read(Path(path))
    if problems or catalog is None:
        raise CatalogError(problems, source=str(path))
    return catalog


def available_catalogs() -> dict[str, Path]:
    """Return the catalog versions shipped in `DATA_DIR`, keyed by id (the file stem)."""
    return {path.stem: path for path in sorted(DATA_DIR.glob("*.toml"))}


def get_catalog(catalog_id: str | None = None) -> Catalog:
    """Return a catalog version, by default the current one, loaded once per process.

    :raise KeyError: no data file for `catalog_id`.
    :raise CatalogError: the file is invalid or its header id differs from its file name.
    """
    return _load_cached(catalog_id or CURRENT_CATALOG_ID)


# Keyed on the resolved id, so get_catalog() and get_catalog(CURRENT_CATALOG_ID) share one object.
# functools.cache does not remember exceptions: a broken file is re-read on the next call.
@functools.cache
def _load_cached(catalog_id: str) -> Catalog:
    catalogs = available_catalogs()
    if catalog_id not in catalogs:
        known = ", ".join(catalogs) or "none"
        raise KeyError(f"no catalog {catalog_id!r} in {DATA_DIR} (available: {known})")
    path = catalogs[catalog_id]
    catalog = load_catalog(path)
    if catalog.id != catalog_id:
        # Profiles store the id; a file whose name and header disagree would pin the wrong one.
        raise CatalogError(
            [f"header id {catalog.id!r} does not match the file name {path.name!r}"], str(path)
        )
    return catalog


def _read(path: Path) -> tuple[Catalog | None, list[str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [f"cannot read {path}: {exc}"]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return None, [f"TOML syntax error: {exc}"]
    return parse_catalog(data)
