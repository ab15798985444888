"""Progress writes are coalesced within a phase, but a new phase is written at once."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from reel_host.worker import context as run_context
from reel_host.worker.context import HostRunContext


@pytest.fixture
def written(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, str | None]]:
    writes: list[tuple[float, str | None]] = []

    def record(_rt, _claim, fraction, message, _logs=()):  # type: ignore[no-untyped-def]
        writes.append((fraction, message))
        return True

    monkeypatch.setattr(run_context.runs, "report_progress", record)
    return writes


def context(tmp_path: Path) -> HostRunContext:
    claim = SimpleNamespace(task=SimpleNamespace(id="tsk_1"), attempt=1)
    return HostRunContext(SimpleNamespace(), claim, tmp_path, "cpu")  # type: ignore[arg-type]


def test_a_fast_run_writes_nothing_until_it_ends(tmp_path, written):
    ctx = context(tmp_path)
    for step in range(1, 4):
        ctx.progress(step / 3, f"step {step}/3")
    assert written == []  # the outcome carries 1.0


def test_steps_of_one_phase_are_coalesced_but_each_new_phase_is_written(tmp_path, written):
    ctx = context(tmp_path)
    time.sleep(HostRunContext.phase_every_s)  # the model loaded
    ctx.progress(0.0, "generating 9 frames at 32x48")
    for step in range(1, 13):  # twelve denoising steps of 10 ms: 0.12 s in all, under progress_every_s
        time.sleep(0.01)
        ctx.progress(0.9 * step / 12, f"step {step}/12")
    time.sleep(HostRunContext.phase_every_s)
    ctx.progress(0.9, "encoding MP4")
    ctx.progress(1.0, "done")
    phases = [run_context._phase(m) for _f, m in written]
    assert phases == ["generating  frames at x", "step /", "encoding MP"], written
    assert 0 < written[1][0] < 0.9  # a state between the start and the end
