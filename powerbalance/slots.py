"""Page runs take turns: at most :func:`config.page_slots` page runs of one server process run at
once (2 unless ``POWERBALANCE_PAGE_SLOTS`` says otherwise); the others wait, first come first served.

Why: Python runs one thread at a time, so 25 page runs started together all share that one core,
switching every few milliseconds, and *all* finish late — measured, 25 councillors opening My area at
once each waited 7.3 s (median), and the switching itself cost a third more CPU. Taking turns, the
first finish in a fraction of a second and the median wait fell to 2.7 s, with the last no later
than before (``python -m bench.ratios``; docs/operations.md). Two slots rather than one: a slow run
(a large funder's file being read) leaves the other slot serving everyone else, and a database query
in one run overlaps with Python in the other.

No Streamlit here: ``dashboard.py`` wraps the page run in :func:`page_slot`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from . import config


class PageSlots:
    """``n`` slots; :meth:`hold` takes one for a block (waiting, first come first served, when all
    are taken). A thread that already holds one (a page switch inside a run) does not take a second."""

    def __init__(self, n: int):
        self.n = n
        self._free = threading.BoundedSemaphore(n)
        self._held = threading.local()

    @contextmanager
    def hold(self) -> Iterator[None]:
        if getattr(self._held, "yes", False):
            yield
            return
        with self._free:
            self._held.yes = True
            try:
                yield
            finally:
                self._held.yes = False


_SLOTS = PageSlots(config.page_slots())


def page_slot():
    """Hold one of this process's page slots for the block (see :class:`PageSlots`)."""
    return _SLOTS.hold()
