"""What a newcomer met in the studio (issue 19): each test drives real widgets over a real project file
(and, where a run is needed, the real worker on tiny-llama) and failed on the code before its fix."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent

from core.store import Project, ProjectSettings
from tests.studio.conftest import LOAD_TIMEOUT_MS, wait_cost

RUN_TIMEOUT_MS = 120_000
SCREEN_W = 1600  # the Xvfb screen the newcomer used (1600×1000)


def _settings(data: Path, **training) -> ProjectSettings:
    return ProjectSettings(
        model="tiny-llama",
        method_config={"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": 4, "lora_alpha": 8,
                       "target_modules": ["q_proj", "v_proj"]},
        data={"path": str(data), "format": "auto", "max_length": 64},
        training={"max_steps": 12, "batch_size": 4, "eval_steps": 0, "save_steps": 6, "warmup_steps": 0,
                  "learning_rate": 5e-2, **training},
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A project with two runs trained by the real worker (through the CLI's code path)."""
    from core.cli import main

    folder = tmp_path_factory.mktemp("newcomer")
    data = folder / "d.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"Q{i}:", "completion": " zebra zebra"}) + "\n" for i in range(16)))
    path = folder / "t.adapterstudio"
    Project.create(path, _settings(data)).close()
    assert main(["train", str(path)]) == 0
    assert main(["train", str(path)]) == 0
    return path


@pytest.fixture
def trained_window(trained, tmp_path, make_window):
    path = tmp_path / "t.adapterstudio"
    shutil.copy(trained, path)
    shutil.copytree(str(trained) + ".artifacts", str(path) + ".artifacts")
    # the runs' checkpoint paths point into the module's folder (still there): the copy reads them
    return make_window(name=path.name)


def _saved_targets(path: Path):
    with Project.open(path) as project:
        return project.settings().method_config.get("target_modules")


# ---- 1. a finished run erased the chosen targets ------------------------------------------------------


def test_colouring_the_tree_after_a_run_keeps_the_targets(trained_window, qtbot):
    window = trained_window
    assert window.targets == ["q_proj", "v_proj"]
    ad = window.training.adaptation
    assert ad.checkpoint.count() >= 1
    with qtbot.waitSignal(ad.computed, timeout=RUN_TIMEOUT_MS):
        ad.show_button.click()
    qtbot.waitUntil(lambda: window.tree.row("model.layers.0.self_attn.q_proj").data(0, Qt.ItemDataRole.DecorationRole) is not None)
    assert window.targets == ["q_proj", "v_proj"]
    assert window.tree.targets_edit.text() == "q_proj, v_proj"
    assert window.tree.row("model.layers.0.self_attn.q_proj").checkState(0) == Qt.CheckState.Checked
    assert window.undo.count() == 0  # nothing the user did
    assert _saved_targets(window.project.path) == ["q_proj", "v_proj"]
    # the user's own click still works after the colouring
    window.tree.row("model.layers.0.self_attn.q_proj").setCheckState(0, Qt.CheckState.Unchecked)
    assert window.targets == ["v_proj"]
    assert _saved_targets(window.project.path) == ["v_proj"]


# ---- 2. long messages pushed the window off-screen ----------------------------------------------------


@pytest.mark.parametrize("ref", ["folder", "hub"])
def test_long_model_errors_wrap_inside_the_screen(make_window, qtbot, tmp_path, ref):
    window = make_window(model="tiny-llama")
    window.resize(1284, 780)
    if ref == "folder":
        folder = tmp_path / ("a folder with a long name and no model in it " * 3).strip()
        folder.mkdir()
        ref = str(folder)
    else:
        ref = "some-organisation-that-does-not-exist/a-model-that-is-surely-not-in-the-local-hub-cache"
    with qtbot.waitSignal(window.model_ready, timeout=LOAD_TIMEOUT_MS):
        window.choose_model(ref)
    qtbot.wait(50)
    message = window.tree.status.text()
    assert len(message) > 200, message  # the long message itself is shown...
    assert window.minimumSizeHint().width() <= SCREEN_W, window.minimumSizeHint()
    assert window.width() <= SCREEN_W, window.width()  # ...and the window stays on the screen
    assert window.training.train_button.isVisible()


# ---- 3. changing the model kept the old targets -------------------------------------------------------


def test_equivalent_targets_pure():
    from studio.targets import equivalent_targets

    bloom = ["transformer.h.0.self_attention.query_key_value", "transformer.h.0.self_attention.dense",
             "transformer.h.0.mlp.dense_h_to_4h", "transformer.h.0.mlp.dense_4h_to_h"]
    gpt2 = ["transformer.h.0.attn.c_attn", "transformer.h.0.attn.c_proj", "transformer.h.0.mlp.c_fc",
            "transformer.h.0.mlp.c_proj"]
    llama = ["model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj", "model.layers.0.self_attn.v_proj",
             "model.layers.0.self_attn.o_proj", "model.layers.0.mlp.gate_proj", "model.layers.0.mlp.up_proj",
             "model.layers.0.mlp.down_proj"]
    assert equivalent_targets(["q_proj", "v_proj"], bloom) == ["query_key_value"]
    assert equivalent_targets(["q_proj", "v_proj"], gpt2) == ["c_attn"]
    assert equivalent_targets(["query_key_value"], llama) == ["q_proj", "k_proj", "v_proj"]
    assert equivalent_targets(["c_attn"], llama) == ["q_proj", "k_proj", "v_proj"]
    assert equivalent_targets(["o_proj"], bloom) == ["dense"]
    assert equivalent_targets(["down_proj", "up_proj"], gpt2) == ["c_fc", "mlp.c_proj"]
    assert equivalent_targets(["q_proj"], llama) is None  # it matches already: nothing to offer
    assert equivalent_targets(["lm_head_xyz"], llama) is None  # no role known


def test_switching_model_offers_the_equivalent_targets(make_window, qtbot):
    window = make_window(model="tiny-llama")
    assert window.targets == ["q_proj", "v_proj"]
    with qtbot.waitSignal(window.model_ready, timeout=LOAD_TIMEOUT_MS):
        window.choose_model("tiny-bloom")
    wait_cost(qtbot, window)
    tree = window.tree
    assert "matches no module" in tree.flags.text()
    assert tree.suggest.isVisible() and "query_key_value" in tree.suggest.text(), tree.suggest.text()
    assert window.cost.mem_total.text() == "–"  # no stale figure of the previous model
    with qtbot.waitSignal(window.cost_ready, timeout=LOAD_TIMEOUT_MS):
        tree.suggest.click()
    assert window.targets == ["query_key_value"]
    assert _saved_targets(window.project.path) == ["query_key_value"]
    assert not tree.suggest.isVisible() and not tree.flags.text()
    assert window.cost.result is not None and window.cost.mem_total.text() != "–"
    assert not window.cost.error.isVisible()
    window.undo.undo()  # one click, one undo step
    assert window.targets == ["q_proj", "v_proj"]


def test_architecture_only_builtin_is_said(make_window, qtbot):
    window = make_window(model="tiny-llama")
    with qtbot.waitSignal(window.model_ready, timeout=LOAD_TIMEOUT_MS):
        window.choose_model("bloomz-560m")
    assert "no weights" in window.tree.status.text() or "architecture only" in window.tree.status.text(), window.tree.status.text()
    assert "query_key_value" in window.tree.suggest.text()
