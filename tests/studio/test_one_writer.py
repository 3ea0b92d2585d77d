"""One project, one writer (issue 19, problem 5): a second window on an open project opens it read-only
and says so; two windows never overwrite each other's settings; File ▸ New shows nothing of the
previous project (curve, progress, log, the tree's adaptation colours).

Real windows (pytest-qt), a real second ``adapter-studio`` process holding the project, real SQLite files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from PySide6.QtCore import Qt

from core import protocol as p
from core.store import Project
from tests.studio.conftest import LOAD_TIMEOUT_MS, show_window

ROOT = Path(__file__).resolve().parents[2]


def _set_field(window, name: str, value) -> None:
    """Type a value into the method form's field, as a person would (the form's own editor)."""
    widget = window.method_form.form.fields[name].widget
    if hasattr(widget, "setValue"):
        widget.setValue(value)
    else:
        widget.setText(str(value))
        widget.editingFinished.emit()


def _stored(path: Path) -> dict:
    with Project.open(path, readonly=True) as project:
        return project.settings().method_config


def test_second_window_in_the_same_process_is_read_only_and_writes_nothing(make_window, qtbot, qsettings):
    first = make_window(model="tiny-llama")
    path = first.project.path
    assert not first.project.readonly and not first.readonly_banner.isVisible()
    second = show_window(qtbot, path, qsettings)

    assert second.project.readonly
    assert second.readonly_banner.isVisible()
    assert "another window" in second.readonly_banner.text.text()
    assert second.readonly_banner.show_other.isVisible()
    assert not second.method_form.isEnabled() and not second.model_box.isEnabled()
    assert not second.training.train_button.isEnabled()

    _set_field(first, "r", 16)  # the writer's edit
    qtbot.waitUntil(lambda: _stored(path)["r"] == 16, timeout=5000)
    # The read-only window's tree: a click on a check box is put back and nothing is written.
    second.tree.toggle(next(iter(sorted(second.tree.selected()))))
    assert second.targets == ["q_proj", "v_proj"]
    assert _stored(path)["target_modules"] == ["q_proj", "v_proj"]
    second.save()  # what every edit calls: a no-op for a read-only project
    assert _stored(path)["r"] == 16

    # The writer closes: "Try again" makes the second one the writer.
    first.close()
    qtbot.mouseClick(second.readonly_banner.retry, Qt.MouseButton.LeftButton)
    assert not second.project.readonly and not second.readonly_banner.isVisible()
    assert second.method_form.isEnabled()
    assert second.project.settings().method_config["r"] == 16  # it reloaded what the first one saved


def test_a_second_process_holds_the_project_and_its_death_frees_it(tmp_path, make_window, qtbot, qsettings):
    """A second ``adapter-studio`` on the same project (a real process, offscreen) writes; this window is
    read-only and its edits change nothing in the file; once that process is killed (SIGKILL: no
    clean-up), "Try again" takes the project over (the dead holder's lock is gone with it)."""
    first = make_window(model="tiny-llama")
    path = first.project.path
    first.close()  # the file exists; now another process opens it first

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT),
           "ADAPTER_STUDIO_SETTINGS": str(tmp_path / "other.ini")}
    other = subprocess.Popen([sys.executable, "-m", "studio.app", str(path)], cwd=ROOT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        lock_file = path.with_name(path.name + ".lock")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if json.loads(lock_file.read_text() or "{}").get("pid") == other.pid:
                    break
            except (OSError, ValueError):
                pass
            assert other.poll() is None, other.stderr.read().decode()[-2000:]
            time.sleep(0.1)
        else:
            raise AssertionError("the second adapter-studio never took the project's lock")

        window = show_window(qtbot, path, qsettings)
        assert window.project.readonly
        text = window.readonly_banner.text.text()
        assert f"process {other.pid}" in text, text
        assert not window.readonly_banner.show_other.isVisible()  # another process: no window to raise here
        assert not window.method_form.isEnabled()
        before = _stored(path)
        window.save()
        window.edit_targets(["k_proj"], None)
        assert _stored(path) == before and window.targets == ["q_proj", "v_proj"]

        os.killpg(other.pid, signal.SIGKILL)
        other.wait(10)
        assert lock_file.exists()  # a killed holder leaves its record behind: stale, not held
        qtbot.mouseClick(window.readonly_banner.retry, Qt.MouseButton.LeftButton)
        assert not window.project.readonly and not window.readonly_banner.isVisible()
        assert json.loads(lock_file.read_text())["pid"] == os.getpid()
        _set_field(window, "lora_alpha", 32)
        qtbot.waitUntil(lambda: _stored(path)["lora_alpha"] == 32.0, timeout=5000)
    finally:
        if other.poll() is None:
            os.killpg(other.pid, signal.SIGKILL)
            other.wait(10)


def test_lock_of_a_dead_process_is_stale_and_a_live_one_is_held(tmp_path):
    """The lock file's own rules, without flock (the Windows path): a record of a process of this host
    that is gone is taken over; one of a live process is not."""
    import socket

    from studio import project_lock

    project = tmp_path / "p.adapterstudio"
    project.write_bytes(b"")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock_file = project_lock.lock_path(project)
    for pid, expect in ((dead.pid, True), (os.getppid(), False)):
        lock_file.write_text(json.dumps({"pid": pid, "host": socket.gethostname(), "since": time.time()}))
        lock = project_lock.ProjectLock(project)
        assert lock._acquire_exclusive() is expect, pid
        if expect:
            assert json.loads(lock_file.read_text())["pid"] == os.getpid()
            os.close(lock._fd)
        else:
            assert lock.holder["pid"] == pid


def test_new_project_shows_nothing_of_the_previous_one(training_window, qtbot, tmp_path, monkeypatch):
    """A project with a finished run (curve, progress, log) and the tree coloured by where it adapted:
    File ▸ New shows an empty run view and an uncoloured tree."""
    from PySide6.QtWidgets import QFileDialog

    window = training_window(20)
    run_id = window.project.create_run()
    window.project.claim_run(run_id)
    window.project.record(run_id, [p.Started(run_id, 20)] + [p.Step(s, s / 20, 3.0 - s * 0.1, 1e-3) for s in range(1, 21)]
                          + [p.Log("info", "the old project's log line"), p.Finished("completed", step=20, loss=1.0)])
    window.training.project_opened()
    view = window.training.view
    assert view.points == 20 and "20/20" in view.progress.format()
    assert "the old project's log line" in view.log.toPlainText()
    name = "model.layers.0.self_attn.q_proj"
    window.training.adaptation.set_data({"metric": "norm", "method": "LORA", "modules": {name: {"norm": 0.5}}})
    assert window.training.adaptation.apply_to_tree(window.tree) == 1

    new = tmp_path / "fresh.adapterstudio"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(new), ""))
    with qtbot.waitSignal(window.model_ready, timeout=LOAD_TIMEOUT_MS):
        window.act_new.trigger()
    assert window.project.path == new
    assert view.points == 0 and view.run_id is None
    assert view.progress.value() == 0 and "20" not in view.progress.format()
    assert view.log.toPlainText() == ""
    assert "No run yet" in view.title.text()
    assert window.training.adaptation.values == {}
    for row in window.tree._rows.values():
        assert row.item.data(0, Qt.ItemDataRole.DecorationRole) is None, row.path
