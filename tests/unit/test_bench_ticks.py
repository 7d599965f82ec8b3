"""The benchmarks' per-item figures are net of each tick's fixed cost."""

from __future__ import annotations

from typing import Any

from bench.common import Ticks, no_work


def _answer(enqueued: int = 0, sweeps: int = 0) -> dict[str, Any]:
    return {
        "x": {"enqueued": enqueued, "skipped": 0},
        "metrics": {"sweeps": sweeps, "discovered": 0},
        "email": {"batches": 0},
    }


def test_a_tick_that_did_no_item_work_is_idle() -> None:
    assert no_work(_answer()) and no_work(_answer(sweeps=2))
    assert not no_work(_answer(enqueued=1))


def test_the_fixed_cost_is_the_mean_of_the_runs_idle_ticks() -> None:
    ticks = Ticks(fallback_reads=15, fallback_writes=2, idle=no_work)
    ticks.costs += [(110, 101, _answer(enqueued=100))]
    ticks.costs += [(8, 1, _answer()), (13, 1, _answer(sweeps=1)), (9, 1, _answer())]
    assert ticks.fixed()[:2] == (10, 1)
    # 4 ticks of 10 reads / 1 write are not the items'.
    assert ticks.net({"reads": 500, "writes": 400}) == {"reads": 460, "writes": 396}
    assert "the mean of its 3 idle ticks" in ticks.note()


def test_too_few_idle_ticks_fall_back_to_the_measured_idle_tick() -> None:
    ticks = Ticks(fallback_reads=15, fallback_writes=2, idle=no_work)
    ticks.costs += [(110, 101, _answer(enqueued=100)), (8, 1, _answer())]
    assert ticks.fixed()[:2] == (15, 2)
    assert ticks.net({"reads": 500, "writes": 400}) == {"reads": 470, "writes": 396}
