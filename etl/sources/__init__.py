"""Source registry. Every module in this package that defines ``SOURCES`` (a list of
:class:`etl.core.Source` instances) is picked up automatically; build order follows ``depends``.
Adding a new source therefore means adding one module here, nothing else."""

from __future__ import annotations

import importlib
import pkgutil

from ..core import Source


def all_sources() -> list[Source]:
    found: list[Source] = []
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        found.extend(getattr(module, "SOURCES", []))
    ids = [s.id for s in found]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise ValueError(f"duplicate source ids: {sorted(dupes)}")
    return found


def get(source_id: str) -> Source:
    for s in all_sources():
        if s.id == source_id:
            return s
    raise KeyError(source_id)
