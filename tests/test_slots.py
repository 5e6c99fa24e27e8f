"""Page runs take turns (powerbalance/slots.py): never more at once than the slots, everyone served
in turn, a run inside a run does not wait for itself, and the setting is read safely."""

from __future__ import annotations

import threading
import time

import pytest

from powerbalance import config
from powerbalance.slots import PageSlots


def test_never_more_runs_at_once_than_slots():
    slots, running, most, done = PageSlots(2), [0], [0], []
    lock = threading.Lock()

    def run(i):
        with slots.hold():
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            time.sleep(0.02)
            with lock:
                running[0] -= 1
        done.append(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert most[0] == 2 and sorted(done) == list(range(8))


def test_a_run_inside_a_run_does_not_wait_for_itself():
    slots = PageSlots(1)
    with slots.hold():
        with slots.hold():  # would block forever if it took a second slot
            pass
    with slots.hold():  # and the slot was given back
        pass


def test_the_slot_is_given_back_when_a_run_stops_early():
    slots = PageSlots(1)
    with pytest.raises(RuntimeError), slots.hold():
        raise RuntimeError("st.stop() or a rerun leaves the page by an exception")
    acquired = threading.Event()

    def take():
        with slots.hold():
            acquired.set()

    t = threading.Thread(target=take)
    t.start()
    t.join(timeout=5)
    assert acquired.is_set()


@pytest.mark.parametrize("value, slots", [(None, 2), ("1", 1), ("4", 4), ("0", 1), ("many", 2)])
def test_slots_setting(monkeypatch, value, slots):
    if value is None:
        monkeypatch.delenv("POWERBALANCE_PAGE_SLOTS", raising=False)
    else:
        monkeypatch.setenv("POWERBALANCE_PAGE_SLOTS", value)
    assert config.page_slots() == slots
