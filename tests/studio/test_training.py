"""Training from the window. Fast UI cases against a scripted fake worker (tests/studio/fake_worker.py,
replaying protocol lines); the real worker on tiny-llama: start, curves, stop, resume, finish;
SIGKILL -> crashed + Resume; close mid-run and reopen -> re-attached."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QElapsedTimer, QTimer

FAKE = str(Path(__file__).with_name("fake_worker.py"))
RUN_TIMEOUT_MS = 90_000


def fake(*extra):
    return lambda project, run_id: [sys.executable, FAKE, project, "--run", str(run_id), *extra]


@pytest.fixture
def data_file(tmp_path) -> Path:
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps({"prompt": f"{i}+1=", "completion": f" {i + 1}"}) + "\n" for i in range(24)))
    return path


@pytest.fixture
def tiny_window(make_window, data_file):
    """A window on a tiny-llama LoRA project (fast skeleton, fast real training)."""

    def make(name="p.adapterstudio", **training):
        window = make_window(settings={
            "model": "tiny-llama",
            "method_config": {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": 4, "lora_alpha": 8,
                              "target_modules": ["q_proj", "v_proj"]},
            "data": {"path": str(data_file), "format": "auto", "max_length": 64},
            "training": {"max_steps": 30, "batch_size": 4, "eval_steps": 10, "save_steps": 5, "warmup_steps": 2,
                         "learning_rate": 1e-2, **training},
        }, name=name)
        window.training.confirm = ANSWERS
        window.training.gpus = []  # the plain worker, no launch dialog, whatever GPUs this machine has
        return window

    STARTED.clear()
    yield make
    for pid in STARTED:  # never leave a worker of this test behind (our own children, by pid)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    STARTED.clear()


STARTED: list[int] = []


def ANSWERS(question, text):  # noqa: N802 - stands in for the message boxes
    return {"close": "stop", "stop": "yes"}[question]


def start(tc, **kw):
    run_id = tc.train(**kw)
    if tc.client is not None and tc.client.pid:
        STARTED.append(tc.client.pid)
    return run_id


def test_fake_worker_curves_and_malformed_lines(tiny_window, qtbot):
    window = tiny_window()
    tc = window.training
    tc.worker_program = fake("--steps", "50", "--malformed")
    with qtbot.waitSignal(tc.run_ended, timeout=30_000) as ended:
        run_id = tc.train()
    assert ended.args == [run_id, "completed"]
    assert tc.view.points == 50 and tc.view.eval.n == 5
    assert len(tc.client.malformed_lines) == 2
    assert "not a JSON line" in tc.client.malformed_lines[0] and "telepathy" in tc.client.malformed_lines[1]
    log = tc.view.log.toPlainText()
    assert "malformed worker line skipped" in log
    assert "completed" in tc.view.status.text()
    qtbot.waitUntil(lambda: not tc.view._dirty)
    assert len(tc.view.raw_curve.xData) == 50 and len(tc.view.eval_curve.xData) == 5
    assert tc.train_button.isEnabled() and not tc.stop_button.isEnabled()


def test_fake_worker_failure_is_shown_with_reason(tiny_window, qtbot):
    window = tiny_window()
    tc = window.training
    tc.worker_program = fake("--steps", "5", "--fail", "The loss became NaN at step 5: lower the learning rate.")
    with qtbot.waitSignal(tc.run_ended, timeout=30_000) as ended:
        tc.train()
    assert ended.args[1] == "failed"
    assert "NaN at step 5" in tc.view.status.text()
    assert not tc.view.resume.isVisible()  # the fake run wrote no checkpoint: nothing to resume from


def test_100k_points_stay_responsive(tiny_window, qtbot):
    """100 000 step lines as fast as a process can print them: the event loop never stalls long, the
    plot redraws at ~10 Hz (not per message), and every point arrives."""
    window = tiny_window()
    tc = window.training
    tc.worker_program = fake("--steps", "100000", "--wait-stop")
    gaps, clock = [], QElapsedTimer()
    clock.start()
    last = [clock.elapsed()]

    def tick():
        now = clock.elapsed()
        gaps.append(now - last[0])
        last[0] = now

    probe = QTimer(interval=5)
    probe.timeout.connect(tick)
    probe.start()
    start = time.perf_counter()
    tc.train()
    qtbot.waitUntil(lambda: tc.view.points == 100_000, timeout=60_000)
    qtbot.waitUntil(lambda: not tc.view._dirty, timeout=5_000)
    elapsed = time.perf_counter() - start
    probe.stop()
    stall = max(gaps)
    print(f"100k points in {elapsed:.2f} s, {tc.view.redraws} redraws, longest event-loop stall {stall} ms")
    assert stall < 400, f"the event loop stalled for {stall} ms"
    assert tc.view.redraws <= elapsed * 10 + 5  # ~10 Hz, never per message
    with qtbot.waitSignal(tc.run_ended, timeout=20_000):
        tc.stop(confirm=False)
    # the view over 100k points still scrolls/zooms without a long stall
    t = time.perf_counter()
    tc.view.loss_plot.setXRange(40_000, 60_000)
    tc.view.layout_widget.grab()
    assert time.perf_counter() - t < 1.0


# ---- the real worker on tiny-llama ---------------------------------------------------------------


@pytest.mark.slow
def test_real_worker_start_stop_resume_finish(tiny_window, qtbot):
    from core.store import Project

    # tiny-llama does ~100 steps/s on an idle machine: the run is paused first, so that Stop lands
    # mid-run however fast or loaded the machine is (a stop while paused checkpoints like any other).
    window = tiny_window(max_steps=150, eval_steps=50, save_steps=50)
    tc = window.training
    run_id = start(tc)
    qtbot.waitUntil(lambda: tc.view.points >= 3, timeout=RUN_TIMEOUT_MS)  # curve points arrive
    assert "step" in tc.view.progress.format() and "ETA" in tc.view.progress.format()
    with qtbot.waitSignal(tc.pause_changed, timeout=RUN_TIMEOUT_MS):
        assert tc.toggle_pause()
    qtbot.waitUntil(lambda: tc.view.redraws > 0 and not tc.view._dirty, timeout=5_000)
    with qtbot.waitSignal(tc.run_ended, timeout=RUN_TIMEOUT_MS) as ended:
        assert tc.stop(confirm=True)  # answered "yes" by ANSWERS
    assert ended.args == [run_id, "stopped"]
    stopped_at = tc.view.points
    assert 3 <= stopped_at < 150 and tc.view.resume.isVisible()
    with Project.open(window.project.path) as project:
        assert project.run(run_id).status == "stopped" and project.last_checkpoint(run_id) is not None
    # Resume: the same run continues its curve from the checkpoint and finishes
    with qtbot.waitSignal(tc.run_ended, timeout=RUN_TIMEOUT_MS) as ended:
        tc.view.resume.click()
        STARTED.append(tc.client.pid)
    assert ended.args == [run_id, "completed"]
    assert tc.view.points == 150 and list(tc.view.loss.view()[0]) == list(range(1, 151))
    assert tc.view.eval.n >= 1 and "completed" in tc.view.status.text()
    assert "from step" in tc.view.log.toPlainText()
    assert tc.runs.table.topLevelItemCount() == 1 and "completed" in tc.runs.table.topLevelItem(0).text(1)


@pytest.mark.slow
def test_sigkill_shows_crashed_with_resume(tiny_window, qtbot):
    from core.store import Project

    window = tiny_window(max_steps=400, save_steps=2)
    tc = window.training
    run_id = start(tc)
    # Resume is offered from a checkpoint: kill once the first one is written
    qtbot.waitUntil(lambda: tc.view.points >= 2 and tc.view.has_checkpoint, timeout=RUN_TIMEOUT_MS)
    with qtbot.waitSignal(tc.run_ended, timeout=5_000) as ended:
        t0 = time.perf_counter()
        os.kill(tc.client.pid, signal.SIGKILL)
    took = time.perf_counter() - t0
    assert ended.args == [run_id, "interrupted"] and took < 1.0, took
    assert "crashed" in tc.view.status.text() and "SIGKILL" in tc.view.status.text()
    assert tc.view.resume.isVisibleTo(window) and tc.train_button.isEnabled()
    with Project.open(window.project.path) as project:
        run = project.run(run_id)
    assert run.status == "interrupted" and run.recorded_status == "interrupted" and run.resumable
    assert "crashed" in run.error


@pytest.mark.slow
def test_close_keeps_running_and_reopen_reattaches(tiny_window, make_window, qtbot):
    window = tiny_window(max_steps=2000, eval_steps=0, save_steps=0)
    tc = window.training
    run_id = start(tc)
    pid = tc.client.pid
    from studio.worker_client import fresh_reader

    def recorded() -> int:
        with fresh_reader(window.project.path) as project:
            return len(project.metrics(run_id))

    qtbot.waitUntil(lambda: recorded() >= 2, timeout=RUN_TIMEOUT_MS)  # in the file (batched twice a second)
    tc.confirm = lambda q, t: "keep"
    assert window.close()
    os.kill(pid, 0)  # the worker outlives the window
    again = make_window(name="p.adapterstudio")  # the same project file
    tc2 = again.training
    tc2.confirm = ANSWERS
    assert tc2.client is not None and tc2.client.attached and tc2.client.run_id == run_id
    assert tc2.view.points >= 2  # curves from the project file...
    seen = tc2.view.points
    qtbot.waitUntil(lambda: tc2.view.points > seen + 3, timeout=RUN_TIMEOUT_MS)  # ...then live (polled)
    steps = list(tc2.view.loss.view()[0])
    assert steps == list(range(1, len(steps) + 1))  # no gap, no repeat between the file and the live part
    # Stop works without a pipe too (through the project file): checkpoint, then "stopped"
    with qtbot.waitSignal(tc2.run_ended, timeout=RUN_TIMEOUT_MS) as ended:
        tc2.stop(confirm=False)
    assert ended.args == [run_id, "stopped"]
