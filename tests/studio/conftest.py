"""Fixtures for the studio's tests: offscreen Qt, an isolated QSettings, a window on a fresh project."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

LOAD_TIMEOUT_MS = 60_000  # the first skeleton imports torch + transformers (seconds on a busy CPU)


@pytest.fixture(autouse=True)
def no_blocking_dialogs(monkeypatch):
    """A modal dialog nobody answers would block the test forever (offscreen, nobody clicks): each one is
    refused at once (Cancel / rejected) and reported as an error of the test that opened it. A test that
    expects a dialog replaces it with its own answer (monkeypatch, or the controller's ``confirm`` hook)."""
    from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox

    opened: list[str] = []

    def refuse(what):
        def answer(*args, **kwargs):
            texts = [a for a in args if isinstance(a, str)]
            if args and isinstance(args[0], QDialog):
                box = args[0]
                texts = [box.windowTitle(), box.text() if isinstance(box, QMessageBox) else ""]
            opened.append(f"{what}: {' | '.join(t for t in texts if t)[:300]}")
            if what.startswith("QFileDialog"):
                return "" if what.endswith("Directory") else ("", "")
            if what.startswith("QMessageBox."):
                return QMessageBox.StandardButton.Cancel
            return QDialog.DialogCode.Rejected.value
        return answer

    for name in ("question", "warning", "critical", "information"):
        monkeypatch.setattr(QMessageBox, name, refuse(f"QMessageBox.{name}"))
    for name in ("getSaveFileName", "getOpenFileName", "getExistingDirectory"):
        monkeypatch.setattr(QFileDialog, name, refuse(f"QFileDialog.{name}"))
    monkeypatch.setattr(QMessageBox, "exec", refuse("QMessageBox.exec"))
    monkeypatch.setattr(QDialog, "exec", refuse("QDialog.exec"))
    yield opened
    assert not opened, f"a modal dialog opened that the test did not answer: {opened}"


@pytest.fixture
def qsettings(tmp_path):
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "studio.ini"), QSettings.Format.IniFormat)


TEST_LORA = {"r": 8, "lora_alpha": 16, "target_modules": ["q_proj", "v_proj"]}
"""The LoRA settings of `make_window`'s test projects (not the product's defaults: `core.defaults`)."""


@pytest.fixture
def make_window(qtbot, tmp_path, qsettings):
    """make_window(model=None) -> a shown MainWindow on a new project, tree + methods + cost loaded.

    Without arguments the window creates the project itself (the product's first-project defaults).
    With a model or settings the test's project is those defaults with LoRA r=8 on q_proj and v_proj
    (`TEST_LORA`): the tree tests need a selection that leaves blocks partly ticked, which the
    product's all-linear default does not."""

    def make(model: str | None = None, name: str = "p.adapterstudio", settings: dict | None = None):
        path = tmp_path / name
        if model or settings:
            from core.store import Project, ProjectSettings
            from studio.main_window import default_settings_dict

            data = default_settings_dict()
            data["method_config"].update(TEST_LORA)
            if model:
                data["model"] = model
            data.update(settings or {})
            Project.create(path, ProjectSettings.from_dict(data)).close()
        return show_window(qtbot, path, qsettings)

    return make


def show_window(qtbot, path, qsettings):
    """A shown MainWindow on ``path``, once its tree, methods and cost are loaded."""
    from studio.main_window import MainWindow

    window = MainWindow(path, qsettings=qsettings)
    qtbot.addWidget(window)
    with qtbot.waitSignals([window.model_ready, window.methods_ready], timeout=LOAD_TIMEOUT_MS):
        window.show()
    wait_cost(qtbot, window)
    return window


@pytest.fixture
def training_window(make_window, tmp_path):
    """training_window(max_steps) -> a window on a tiny-llama LoRA project with 16 short examples, the close
    and stop questions answered (stop, yes), the plain worker (no launch dialog, whatever GPUs are here).
    Afterwards, a run still going in a window made here is killed with its process group."""
    import json
    import signal

    made = []

    def make(max_steps: int):
        data = tmp_path / "d.jsonl"
        data.write_text("".join(json.dumps({"prompt": f"{i}+1=", "completion": f" {i + 1}"}) + "\n" for i in range(16)))
        window = make_window(settings={
            "model": "tiny-llama",
            "method_config": {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": 4, "lora_alpha": 8,
                              "target_modules": ["q_proj", "v_proj"]},
            "data": {"path": str(data), "format": "auto", "max_length": 32},
            "training": {"max_steps": max_steps, "batch_size": 4, "eval_steps": 0, "save_steps": 0, "warmup_steps": 0},
        })
        window.training.confirm = lambda question, text: {"close": "stop", "stop": "yes"}[question]
        window.training.gpus = []
        made.append(window)
        return window

    yield make
    for window in made:
        client = window.training.client
        if client is not None and client.running and client.process is not None:  # only this test's children
            try:
                os.killpg(client.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def wait_cost(qtbot, window):
    """Wait until no cost computation is pending or running."""
    qtbot.waitUntil(
        lambda: window.estimate.idle(),
        timeout=LOAD_TIMEOUT_MS,
    )


def engine_count(model: str, config: dict) -> tuple[int, int]:
    """The engine's own figures for the same config: get_peft_model(...).get_nb_trainable_parameters()."""
    from core.methods import REGISTRY
    from core.config import PeftType
    from core.models import skeleton
    from core.peft_model import get_peft_model

    method = REGISTRY[PeftType(config["peft_type"])]
    data = dict(config)
    data["task_type"] = "CAUSAL_LM"
    return get_peft_model(skeleton(model), method.Config.from_dict(data)).get_nb_trainable_parameters()


def train_tiny_project(folder, *, rows: int, completion: str, runs: int, **training):
    """A tiny-llama LoRA project (r=4 on q/v) with `runs` runs trained by the real worker through the CLI's
    code path; `training` overrides the short schedule. Module-scoped fixtures build it once per file."""
    import json

    from core.cli import main
    from core.store import Project, ProjectSettings

    data = folder / "d.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"Q{i}:", "completion": completion}) + "\n" for i in range(rows)))
    settings = ProjectSettings(
        model="tiny-llama",
        method_config={"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": 4, "lora_alpha": 8,
                       "target_modules": ["q_proj", "v_proj"]},
        data={"path": str(data), "format": "auto", "max_length": 64},
        training={"batch_size": 4, "learning_rate": 5e-2, **training},
    )
    path = folder / "t.adapterstudio"
    Project.create(path, settings).close()
    for _ in range(runs):
        assert main(["train", str(path)]) == 0
    return path


@pytest.fixture
def trained_window(trained, tmp_path, make_window):
    """A window on a copy of the test module's ``trained`` project (its own module-scoped fixture); the
    runs' checkpoint paths still point into the original's folder, which the copy reads."""
    import shutil

    path = tmp_path / "t.adapterstudio"
    shutil.copy(trained, path)
    shutil.copytree(str(trained) + ".artifacts", str(path) + ".artifacts")
    return make_window(name=path.name)
