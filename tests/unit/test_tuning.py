"""A started hub process settles its garbage collector (hub.tuning.settle_gc)."""

from __future__ import annotations

import subprocess
import sys

_PROBE = (
    "import gc, sys; from hub.tuning import settle_gc; before = gc.get_threshold(); "
    "settle_gc(int(sys.argv[1])); "
    "print(before[0], gc.get_threshold()[0], gc.get_freeze_count() > 0)"
)


def _probe(threshold: int) -> list[str]:
    out = subprocess.run([sys.executable, "-c", _PROBE, str(threshold)], check=True,
                         capture_output=True, text=True)  # fmt: skip
    return out.stdout.split()


def test_a_started_process_freezes_what_it_loaded_and_collects_less_often() -> None:
    default, now, frozen = _probe(20_000)
    assert default == "700" and now == "20000" and frozen == "True"


def test_threshold_zero_leaves_the_collector_alone() -> None:
    default, now, frozen = _probe(0)
    assert now == default and frozen == "False"
