"""A real run trained in the real window under a real X server (Xvfb), then a screenshot.

The window presses Train on a project (the real worker process, a real model on the CPU, the shipped
sample dataset), waits for the run to complete and for the tree's "where it adapted" colours, and
saves a picture of the finished run. Checked: the run completed with every step, the targets the
person chose are still ticked in the tree and stored in the project file, the picture is not blank
and the loss curve's colour is drawn.

The test trains tiny-llama (seconds). ``UPDATE_DOCS_SCREENSHOT=1`` trains the built-in
SmolLM2-135M-Instruct instead (30 steps of 4 examples: a few CPU minutes on a free machine) and writes the picture to
docs/screenshot-run.png and docs/screenshot-finished-run.png: the docs show a real run's curves,
never curves made up in a test."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core.store import Project, ProjectSettings

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "assets" / "datasets" / "made_up_capitals.jsonl"

SHOOT = textwrap.dedent(
    """
    import json, sys
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication
    app = QApplication([sys.argv[0]])
    from studio.main_window import MainWindow
    project, out, ini = sys.argv[1:4]
    window = MainWindow(project, qsettings=QSettings(ini, QSettings.Format.IniFormat))
    window.persist_geometry = False
    window.resize(1400, 900)
    tc = window.training
    tc.gpus = []  # the plain worker on the CPU, whatever GPUs this machine has
    tc.confirm = lambda question, text: {"close": "stop", "stop": "yes"}[question]
    report = {}
    waiting = {"model", "methods"}

    def ready(what):
        waiting.discard(what)
        if not waiting:
            QTimer.singleShot(500, start)

    def start():
        report["run"] = tc.train()

    def ended(run_id, status):
        report["status"] = status
        report["steps"] = tc.view.loss.view()[0].tolist()
        if status == "completed":
            tc.adaptation.computed.connect(lambda: QTimer.singleShot(300, shoot))
            QTimer.singleShot(30000, shoot)  # never hang on the colours
        else:
            shoot()

    def shoot():
        if "shot" in report:
            return
        report["shot"] = True
        tc.dock.setMinimumHeight(420)
        tc.tabs.setCurrentIndex(0)
        tc.runs.select(report.get("run"))
        tc.view.redraw()
        QTimer.singleShot(400, save)

    def save():
        window.grab().save(out)
        report["targets"] = window.targets
        report["ticked"] = sorted(window.tree.selected())
        report["coloured"] = window.tree.row("model.layers.0.self_attn.q_proj").data(0, 1) is not None \\
            if "model.layers.0.self_attn.q_proj" in window.tree._rows else None
        report["size"] = [window.frameGeometry().width(), window.frameGeometry().height()]
        print("REPORT " + json.dumps(report), flush=True)
        window.close()
        app.quit()

    window.model_ready.connect(lambda: ready("model"))
    window.methods_ready.connect(lambda: ready("methods"))
    tc.run_ended.connect(ended)
    QTimer.singleShot(int(sys.argv[4]) * 1000, save)  # never hang: a picture of whatever is there
    window.show()
    app.exec()
    """
)


def shoot_real_run(folder: Path, *, model: str, steps: int, batch_size: int, timeout_s: int) -> tuple[dict, Path]:
    """Create a project (``model``, LoRA on q_proj/v_proj, the shipped capitals sample), train it from
    the window under ``xvfb-run`` (a 1600×1000 screen), return the script's report and the picture."""
    from studio.main_window import default_settings_dict

    settings = default_settings_dict()
    settings.update(model=model, name="capitals", data={"path": str(SAMPLE), "format": "auto", "max_length": 64})
    # LoRA r 8 on q_proj and v_proj: a choice that leaves other rows unticked, so the picture shows
    # which targets the finished run kept
    settings["method_config"] = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": 8, "lora_alpha": 16,
                                 "lora_dropout": 0.05, "target_modules": ["q_proj", "v_proj"]}
    settings["training"] = {"max_steps": steps, "batch_size": batch_size, "eval_steps": max(steps // 6, 1), "save_steps": 0,
                            "warmup_steps": max(steps // 20, 1), "logging_steps": 1}
    path = folder / "capitals.adapterstudio"
    Project.create(path, ProjectSettings.from_dict(settings)).close()
    out = folder / "run.png"
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run(
        ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", sys.executable, "-c", SHOOT, str(path), str(out),
         str(folder / "s.ini"), str(timeout_s)], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=timeout_s + 120,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("REPORT ")]
    assert proc.returncode == 0 and lines and out.is_file(), (proc.stdout[-2000:], proc.stderr[-3000:])
    return json.loads(lines[-1][len("REPORT "):]), path


@pytest.mark.one_at_a_time("xserver")  # `xvfb-run -a` races for a free display: one at a time
@pytest.mark.slow
@pytest.mark.timeout(3600)  # the docs' SmolLM2 run on a busy CPU; tiny-llama takes about a minute
@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="xvfb-run is not installed")
def test_screenshot_of_a_real_finished_run(tmp_path):
    from PySide6.QtGui import QColor, QImage

    docs = bool(os.environ.get("UPDATE_DOCS_SCREENSHOT"))
    model, steps, batch = ("smollm2-135m-instruct", 30, 4) if docs else ("tiny-llama", 40, 8)
    report, path = shoot_real_run(tmp_path, model=model, steps=steps, batch_size=batch, timeout_s=3300 if docs else 300)
    assert report["status"] == "completed", report
    assert report["steps"] == list(range(1, steps + 1))  # every step of the real run, once
    # the finished run leaves the person's targets as they were: ticked, and in the project file
    assert report["targets"] == ["q_proj", "v_proj"], report
    assert report["ticked"] and all(n.endswith(("q_proj", "v_proj")) for n in report["ticked"]), report
    with Project.open(path, readonly=True) as project:
        assert project.settings().method_config["target_modules"] == ["q_proj", "v_proj"]
        (run,) = project.runs()
        assert run.status == "completed" and run.step == steps
    assert report["size"][0] <= 1600 and report["size"][1] <= 1000, report

    out = tmp_path / "run.png"
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
    if docs:
        for name in ("screenshot-run.png", "screenshot-finished-run.png"):
            shutil.copy(out, ROOT / "docs" / name)
