"""A real-window screenshot (Xvfb) of a project with finished runs: curves drawn, checked not blank.

``UPDATE_DOCS_SCREENSHOT=1`` also copies it to docs/screenshot-run.png (the README's picture)."""

from __future__ import annotations

import math
import os
import random
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core import protocol as p
from core.store import Project, ProjectSettings

ROOT = Path(__file__).resolve().parents[2]

SHOOT = textwrap.dedent(
    """
    import sys
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication
    app = QApplication([sys.argv[0]])
    from studio.main_window import MainWindow
    window = MainWindow(sys.argv[1], qsettings=QSettings(sys.argv[3], QSettings.Format.IniFormat))
    window.persist_geometry = False
    window.resize(1400, 900)
    waiting = {"model", "methods"}

    def shoot():
        tc = window.training
        tc.dock.setMinimumHeight(480)
        table = tc.runs.table
        for i in range(table.topLevelItemCount()):
            table.topLevelItem(i).setSelected(True)
        tc.show_run(tc.runs.selected_ids()[-1])
        tc.view.redraw()
        QTimer.singleShot(400, save)

    def save():
        window.grab().save(sys.argv[2])
        app.quit()

    def ready(what):
        waiting.discard(what)
        if not waiting:
            QTimer.singleShot(300, shoot)

    window.model_ready.connect(lambda: ready("model"))
    window.methods_ready.connect(lambda: ready("methods"))
    QTimer.singleShot(60000, save)
    window.show()
    app.exec()
    """
)


def _record_run(project: Project, steps: int, lr: float, floor: float, seed: int) -> None:
    rng = random.Random(seed)
    run_id = project.create_run(training_overrides={"learning_rate": lr, "max_steps": steps})
    project.claim_run(run_id)
    events: list = [p.Started(run_id, steps)]
    for s in range(1, steps + 1):
        warm = min(1.0, s / 20)
        lr_s = lr * warm * 0.5 * (1 + math.cos(math.pi * s / steps))
        loss = floor + (3.2 - floor) * math.exp(-s / (60 if lr > 1e-3 else 160)) + rng.gauss(0, 0.12)
        events.append(p.Step(s, s / steps * 3, loss, lr_s, tokens_per_s=5400.0, elapsed_s=s * 0.7, eta_s=(steps - s) * 0.7))
        if s % 25 == 0:
            events.append(p.Eval(s, floor + 0.1 + (3.2 - floor) * math.exp(-s / (60 if lr > 1e-3 else 160))))
    events.append(p.Finished("completed", step=steps, loss=loss))
    project.record(run_id, events)


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="xvfb-run is not installed")
def test_screenshot_of_finished_runs(tmp_path):
    from PySide6.QtGui import QColor, QImage

    path = tmp_path / "facts.adapterstudio"
    from studio.main_window import default_settings_dict

    Project.create(path, ProjectSettings.from_dict({**default_settings_dict(), "model": "tiny-llama", "name": "facts"})).close()
    with Project.open(path) as project:
        _record_run(project, 300, 1e-4, 1.6, 1)
        _record_run(project, 300, 2e-3, 0.45, 2)
    out = tmp_path / "run.png"
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run(
        ["xvfb-run", "-a", "-s", "-screen 0 1500x1000x24", sys.executable, "-c", SHOOT, str(path), str(out),
         str(tmp_path / "s.ini")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0 and out.is_file(), proc.stderr[-2000:]
    image = QImage(str(out))
    assert not image.isNull() and image.width() >= 1200 and image.height() >= 800
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
    assert len(colours) > 20, f"only {len(colours)} colours: blank window?"
    # the smoothed-loss accent (#2f7ed8) is drawn somewhere in the lower half: the curves are there
    accent = QColor("#2f7ed8")
    hits = sum(
        1 for x in range(0, image.width(), 2) for y in range(image.height() // 2, image.height(), 2)
        if abs(QColor(image.pixel(x, y)).red() - accent.red()) < 40
        and abs(QColor(image.pixel(x, y)).green() - accent.green()) < 40
        and abs(QColor(image.pixel(x, y)).blue() - accent.blue()) < 40
    )
    assert hits > 30, f"no loss curve drawn ({hits} accent pixels)"
    if os.environ.get("UPDATE_DOCS_SCREENSHOT"):
        shutil.copy(out, ROOT / "docs" / "screenshot-run.png")
