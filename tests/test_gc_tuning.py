"""The ``trionode`` entry point tunes the process's collector before the CLI runs."""

from __future__ import annotations

import gc

import pytest

from trionode import __main__ as entry
from trionode.nursery.gc_tuning import GC_THRESHOLDS


def test_the_entry_point_tunes_the_collector() -> None:
    before = gc.get_threshold()
    assert before != GC_THRESHOLDS or gc.set_threshold(700, 10, 10) is None
    try:
        with pytest.raises(SystemExit) as exit_info:
            entry.main(["--help"])
        assert exit_info.value.code == 0
        assert gc.get_threshold() == GC_THRESHOLDS
    finally:
        gc.set_threshold(*before)
