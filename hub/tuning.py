"""Process tuning for long-running hub processes (the server, an adapter, `hub link`)."""

from __future__ import annotations

import gc


def settle_gc(threshold: int) -> None:
    """Call once the process has started: modules imported, caches and the linkage model
    loaded. What is alive then lives as long as the process, so the cyclic collector
    stops scanning it on every full collection (`gc.freeze`); and young collections run
    every `threshold` allocations instead of every 700. A request or a message allocates
    thousands of short-lived objects and almost no cycles: with Python's defaults the
    collector took ~9 % of the HIS adapter's time (bench/his_throughput.py), ~2 % now.
    `threshold` 0 leaves the collector as Python sets it (the test suite does: it starts
    many hubs in one process, and frozen objects are never collected)."""
    if threshold <= 0:
        return
    gc.collect()
    gc.freeze()
    gc.set_threshold(threshold, 50, 100)
