"""Pause / Continue from the window: the button, the run view, the progress line and the runs list follow
the worker's Paused / Continued answers (the scripted fake worker, tests/studio/fake_worker.py); a
re-attached run (no pipe) says why it cannot be paused here and shows a recorded pause; closing on a
paused run keeps it going. The real worker pauses, holds, continues and finishes in
test_launch.py::test_accelerate_launch_on_the_cpu_pauses_and_finishes_in_the_window (one worker start
for both: the command passes through accelerate's launcher)."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

FAKE = str(Path(__file__).with_name("fake_worker.py"))
RUN_TIMEOUT_MS = 90_000


MAX_STEPS = 400


@pytest.fixture
def window(training_window):
    return training_window(MAX_STEPS)


def status_cell(tc) -> str:
    return tc.runs.table.topLevelItem(tc.runs.table.topLevelItemCount() - 1).text(1)


def test_pause_continue_stop_with_the_fake_worker(window, qtbot):
    tc = window.training
    tc.worker_program = lambda project, run_id: [sys.executable, FAKE, project, "--run", str(run_id), "--steps", "100000",
                                                 "--interactive", "--step-ms", "10"]
    assert not tc.pause_button.isEnabled() and tc.pause_button.toolTip()  # nothing to pause yet
    tc.train()
    qtbot.waitUntil(lambda: tc.view.points >= 3 and tc.pause_button.isEnabled(), timeout=20_000)
    assert "Ctrl+P" in tc.pause_button.toolTip() and tc.act_pause.shortcut().toString() == "Ctrl+P"
    with qtbot.waitSignal(tc.pause_changed, timeout=10_000) as changed:
        tc.pause_button.click()
        assert "Pausing" in tc.pause_button.text() and not tc.pause_button.isEnabled()  # until the worker answers
    assert changed.args == [True] and tc.client.paused
    assert "paused" in tc.view.status.text() and tc.view.progress.format().endswith("paused")
    assert "ETA" not in tc.view.progress.format()
    assert "paused" in status_cell(tc)
    assert "Continue" in tc.pause_button.text() and tc.pause_button.isEnabled() and tc.act_pause.text() == "&Continue"
    held = tc.view.points
    qtbot.wait(300)  # the worker would have taken ~30 steps by now
    assert tc.view.points == held
    with qtbot.waitSignal(tc.pause_changed, timeout=10_000) as changed:
        tc.act_pause.trigger()  # the menu action / Ctrl+P does the same
    assert changed.args == [False] and "running" in tc.view.status.text() and "paused" not in status_cell(tc)
    assert "continued at step" in tc.view.log.toPlainText()
    qtbot.waitUntil(lambda: tc.view.points > held + 3, timeout=10_000)
    assert "ETA" in tc.view.progress.format()
    # Stop while paused still ends the run properly
    with qtbot.waitSignal(tc.pause_changed, timeout=10_000):
        tc.toggle_pause()
    with qtbot.waitSignal(tc.run_ended, timeout=20_000) as ended:
        tc.stop(confirm=False)
    assert ended.args[1] == "stopped" and not tc.pause_button.isEnabled() and "Pause" in tc.pause_button.text()
    assert "paused" not in status_cell(tc)  # (the fake worker writes no file: the list shows what the file says)


def test_closing_on_a_paused_run_keeps_it_paused(window, qtbot, tmp_path):
    """Kept in the background, a paused run stays paused (a later window continues it through the
    project file): the question says so, and the window sends nothing more to the worker."""
    tc = window.training
    log = tmp_path / "commands.txt"
    tc.worker_program = lambda project, run_id: [sys.executable, FAKE, project, "--run", str(run_id), "--steps", "100000",
                                                 "--interactive", "--step-ms", "10", "--command-log", str(log)]
    tc.train()
    qtbot.waitUntil(lambda: tc.pause_button.isEnabled(), timeout=20_000)
    with qtbot.waitSignal(tc.pause_changed, timeout=10_000):
        tc.toggle_pause()
    client, asked = tc.client, []
    tc.confirm = lambda question, text: asked.append(text) or "keep"
    assert window.close()
    assert "It is paused" in asked[0] and not client.running
    qtbot.waitUntil(lambda: log.exists() and log.read_text().split() == ["pause"], timeout=5_000)
    qtbot.wait(300)
    assert log.read_text().split() == ["pause"]  # no Continue sent on the way out
    try:
        os.killpg(client.pid, signal.SIGKILL)  # the fake worker is this test's own child
    except ProcessLookupError:
        pass


def test_reattached_run_pauses_through_the_file_and_shows_a_recorded_pause(make_window, window, qtbot):
    """A run trained by a process this window did not start (here: the test process itself claims it and
    plays the worker's part on the file). No pipe: Pause and Continue go through the project file
    (`Project.request_pause` / `request_continue`); a run the file records as paused (`Run.paused_since`)
    shows as paused on re-attach, and as running again when the file says so."""
    from core.store import Project

    path = window.project.path
    with Project.open(path) as project:
        run_id = project.create_run()
        project.claim_run(run_id, pid=os.getpid())  # alive: this process
        project.conn.execute("UPDATE runs SET paused_since = ? WHERE id = ?", (time.time() - 5, run_id))
        project.conn.commit()
    again = make_window(name=path.name)
    tc = again.training
    assert tc.client is not None and tc.client.attached and tc.client.run_id == run_id
    qtbot.waitUntil(lambda: tc.stop_button.isEnabled(), timeout=5_000)
    # paused from the first paint (the view reads the run), and the client's first poll says so too
    assert "paused" in tc.view.status.text() and "paused" in tc.view.progress.format()
    qtbot.waitUntil(lambda: tc.client.paused and "paused" in status_cell(tc), timeout=5_000)
    assert tc.client.can_pause and tc.pause_button.isEnabled() and "Continue" in tc.pause_button.text()
    tc.toggle_pause()  # Continue, through the file
    assert "Continuing" in tc.pause_button.text() and not tc.pause_button.isEnabled()
    with Project.open(path) as project:  # the worker's side: take the request, go on
        assert project.take_pause_request(run_id) is False
        project.conn.execute("UPDATE runs SET paused_since = NULL WHERE id = ?", (run_id,))
        project.conn.commit()
    with qtbot.waitSignal(tc.pause_changed, timeout=5_000) as changed:
        pass
    assert changed.args == [False] and "running" in tc.view.status.text() and "paused" not in status_cell(tc)
    assert "continued at step" in tc.view.log.toPlainText() and "Pause" in tc.pause_button.text()
    tc.toggle_pause()  # Pause, through the file
    with Project.open(path) as project:
        assert project.take_pause_request(run_id) is True
        project.conn.execute("UPDATE runs SET paused_since = ? WHERE id = ?", (time.time(), run_id))
        project.conn.commit()
    with qtbot.waitSignal(tc.pause_changed, timeout=5_000) as changed:
        pass
    assert changed.args == [True] and "paused" in status_cell(tc)
    with qtbot.waitSignal(tc.run_ended, timeout=5_000) as ended:
        with Project.open(path) as project:
            project.set_run_status(run_id, "stopped")
    assert ended.args == [run_id, "stopped"]

