"""The whole loop as a newcomer walks it (issue 19), in a real X server (Xvfb, a 1600×1000 screen).

`test_newcomer_scenario` starts ``xvfb-run`` around a second pytest that runs `_walk` with pytest-qt on
the X server (``QT_QPA_PLATFORM=xcb``), from a fresh home folder (``HOME`` and the XDG folders in a
temporary directory, the user's own QSettings there too). `_walk`:

first launch (the default project is created) → switch the model to tiny-llama → tick a module → change
method fields → short training settings → Train to completion (the real worker) → the targets and
settings are exactly what the person left (in the window and in the project file) → the playground
generates with the newest checkpoint → export the adapter (verified) → close and reopen (the same
project, the same settings, the run listed).

After every step: the window fits on the screen (frame and minimum size within 1600×1000) and the
settings the person chose are still in the window and in the file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INNER = "ADAPTER_STUDIO_NEWCOMER_INNER"
SCREEN = (1600, 1000)
STEPS = ["first launch", "switch model", "tick modules", "change method and training fields", "train to completion",
         "settings after the run", "playground", "export", "reopen"]


@pytest.mark.one_at_a_time("xserver")  # `xvfb-run -a` races for a free display: one at a time
@pytest.mark.slow
@pytest.mark.timeout(1500)  # a real run, a playground generation and an export on a busy CPU
@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="xvfb-run is not installed")
def test_newcomer_scenario(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "ADAPTER_STUDIO_SETTINGS")}
    env.update({
        INNER: str(tmp_path / "steps.txt"), "QT_QPA_PLATFORM": "xcb", "PYTHONPATH": str(ROOT), "HOME": str(home),
        "XDG_DATA_HOME": str(home / ".local/share"), "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"), "LANG": "C.UTF-8",
    })
    # the models' cache stays the machine's (a newcomer downloads nothing: the built-ins are local)
    from core.models import cache_root

    env.setdefault("ADAPTER_STUDIO_CACHE", str(cache_root().parent))
    proc = subprocess.run(
        ["xvfb-run", "-a", "-s", f"-screen 0 {SCREEN[0]}x{SCREEN[1]}x24", sys.executable, "-m", "pytest", "-x", "-q",
         "-p", "no:cacheprovider", "--timeout", "1100", f"{Path(__file__)}::test_walk", "--basetemp", str(tmp_path / "inner")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    assert "1 passed" in proc.stdout, proc.stdout[-3000:]  # the walk ran (not skipped)
    done = (tmp_path / "steps.txt").read_text().splitlines()
    assert done == STEPS, done


@pytest.mark.skipif(not os.environ.get(INNER), reason="runs inside test_newcomer_scenario's X server")
def test_walk(qapp, qtbot, tmp_path):
    _walk(qapp, qtbot, tmp_path)


def _walk(qapp, qtbot, tmp_path) -> None:  # noqa: PLR0915 - one scenario, step by step
    from PySide6.QtGui import QGuiApplication

    from core.store import Project
    from studio.main_window import MainWindow, default_project_path
    from tests.studio.conftest import LOAD_TIMEOUT_MS, wait_cost

    qapp.setOrganizationName("AdapterStudio")
    qapp.setApplicationName("Adapter Studio")
    screen = QGuiApplication.primaryScreen().geometry()
    assert (screen.width(), screen.height()) == SCREEN
    home = Path(os.environ["HOME"])
    steps: list[str] = []
    expected: dict = {}

    def fits(window, step: str) -> None:
        qtbot.waitUntil(lambda: window.isVisible())
        frame = window.frameGeometry()
        hint = window.minimumSizeHint()
        assert frame.width() <= SCREEN[0] and frame.height() <= SCREEN[1], f"{step}: window {frame.width()}×{frame.height()}"
        assert hint.width() <= SCREEN[0] and hint.height() <= SCREEN[1], f"{step}: minimum size {hint.width()}×{hint.height()}"
        assert screen.contains(frame.topLeft()), f"{step}: the window's corner is off-screen"

    def kept(window, step: str) -> None:
        """The settings the person chose, in the window and in the file."""
        if not expected:
            return
        assert window.settings.model == expected["model"], step
        assert window.targets == expected["targets"], f"{step}: targets {window.targets}"
        assert set(window.tree.selected()) == expected["ticked"], f"{step}: ticked rows changed"
        # Quick edits are written together within 0.3 s (studio/project_state.py): wait for the write the
        # window's own timer makes, as a person who stops typing would, before reading the file.
        qtbot.waitUntil(lambda: not window.state.dirty, timeout=5_000)
        with Project.open(window.project.path, readonly=True) as project:
            stored = project.settings()
        assert stored.model == expected["model"], step
        cfg = stored.method_config
        assert cfg["target_modules"] == expected["targets"], f"{step}: the file holds targets {cfg['target_modules']}"
        for key, value in expected["method"].items():
            assert cfg[key] == value, f"{step}: method_config[{key}] = {cfg[key]}, not {value}"
        for key, value in expected["training"].items():
            assert stored.training[key] == value, f"{step}: training[{key}] = {stored.training[key]}, not {value}"

    def step(window, name: str) -> None:
        fits(window, name)
        kept(window, name)
        steps.append(name)
        Path(os.environ[INNER]).write_text("\n".join(steps) + "\n")  # the outer test reads how far it got

    # 1. first launch from a fresh home folder: the default project is created there
    window = MainWindow()
    qtbot.addWidget(window)
    with qtbot.waitSignals([window.model_ready, window.methods_ready], timeout=LOAD_TIMEOUT_MS):
        window.show()
    wait_cost(qtbot, window)
    path = default_project_path()
    assert window.project.path == path and str(path).startswith(str(home)), path
    assert window.settings.data.get("path", "").endswith(".jsonl")  # the sample dataset, ready to train
    step(window, "first launch")

    # 2. switch the model: typed into the model box, Enter
    window.model_box.setCurrentText("tiny-llama")
    with qtbot.waitSignal(window.model_ready, timeout=LOAD_TIMEOUT_MS):
        window.model_box.lineEdit().returnPressed.emit()
    wait_cost(qtbot, window)
    assert window.settings.model == "tiny-llama" and window.tree.info.ref == "tiny-llama"
    step(window, "switch model")

    # 3. tick modules: q_proj and v_proj (ticked in every block), then k_proj by its check box
    window.tree.targets_edit.setText("q_proj, v_proj")
    window.tree.targets_edit.editingFinished.emit()
    k_row = next(p for p in window.tree._rows if p.endswith("self_attn.k_proj"))
    window.tree.toggle(k_row)
    wait_cost(qtbot, window)
    targets = list(window.targets)
    assert set(targets) == {"q_proj", "v_proj", "k_proj"}, targets
    expected.update(model="tiny-llama", targets=targets, ticked=set(window.tree.selected()), method={}, training={})
    assert any(n.endswith("k_proj") for n in expected["ticked"])
    step(window, "tick modules")

    # 4. change method fields (as typed into the form) and short training settings
    form = window.method_form.form.fields
    form["r"].widget.setValue(4)
    form["lora_alpha"].widget.setText("8")
    form["lora_alpha"].widget.editingFinished.emit()
    wait_cost(qtbot, window)
    expected["method"] = {"r": 4, "lora_alpha": 8.0}
    training = window.training_form.fields
    window.tabs.setCurrentIndex(1)
    for name, value in (("max_steps", 30), ("batch_size", 8), ("eval_steps", 10), ("save_steps", 0), ("warmup_steps", 2)):
        training[name].set(value)
    window.training_form._changed()
    expected["training"] = {"max_steps": 30, "batch_size": 8, "eval_steps": 10, "save_steps": 0, "warmup_steps": 2}
    data = dict(window.settings.data, max_length=64)
    window.apply_section("data", data)
    wait_cost(qtbot, window)
    step(window, "change method and training fields")

    # 5. train tiny-llama to completion (the real worker process)
    tc = window.training
    tc.gpus = []
    with qtbot.waitSignal(tc.run_ended, timeout=300_000) as ended:
        run_id = tc.train()
        assert run_id is not None
    assert ended.args == [run_id, "completed"], ended.args
    with qtbot.waitSignal(tc.adaptation.computed, timeout=60_000, raising=False):
        pass  # the tree's colours for where it adapted (a LoRA run), when they come
    qtbot.wait(300)
    step(window, "train to completion")

    # 6. the targets and settings are exactly what the person left (checked by step(); and the run's
    # own snapshot used them)
    with Project.open(window.project.path, readonly=True) as project:
        run = project.run(run_id)
        assert run.status == "completed" and run.step == 30
        assert run.config.method_config["target_modules"] == targets and run.config.method_config["r"] == 4
    assert "None" not in window.act_undo.text(), window.act_undo.text()  # no "Undo targets: None" left by the run
    step(window, "settings after the run")

    # 7. playground: the newest checkpoint, base and adapter side by side
    tc.tabs.setCurrentWidget(tc.playground)
    pg = tc.playground
    assert pg.checkpoint.count() >= 1
    assert "step 30" in pg.checkpoint.currentText(), pg.checkpoint.currentText()  # the newest run's last checkpoint
    pg.prompt.setPlainText("What is the capital of Rizil?")
    pg.max_tokens.setValue(6)
    with qtbot.waitSignal(pg.finished, timeout=120_000):
        pg.go.click()
    assert pg.outputs["adapter"] and pg.outputs["base"], pg.outputs
    step(window, "playground")

    # 8. export the adapter from the dialog: verified
    from studio.widgets.export_dialog import ExportDialog

    dialog = ExportDialog(window.project, run_id, window)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.adapter.setChecked(True)
    dialog.folder.setText(str(tmp_path / "exported"))
    with qtbot.waitSignal(dialog.exported, timeout=120_000):
        dialog.export_button.click()
    assert "Verified" in dialog.result.text() or "✓" in dialog.result.text(), dialog.result.text()
    assert (tmp_path / "exported" / "adapter_config.json").is_file()
    dialog.close()
    step(window, "export")

    # 9. close and reopen: the same project, the same settings, the run listed
    window.close()
    reopened = MainWindow()
    qtbot.addWidget(reopened)
    with qtbot.waitSignals([reopened.model_ready, reopened.methods_ready], timeout=LOAD_TIMEOUT_MS):
        reopened.show()
    wait_cost(qtbot, reopened)
    assert reopened.project.path == path and not reopened.project.readonly
    assert reopened.training.runs.table.topLevelItemCount() == 1  # the run, listed
    assert reopened.training.view.run_id == run_id  # and shown
    step(reopened, "reopen")
    reopened.close()
    assert steps == STEPS, steps
