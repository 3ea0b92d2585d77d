"""The Combine runs dialog on two real runs (tiny-llama LoRA, trained by the real worker through the CLI's code
path): opened from the runs list's selection, the knobs each combination type needs, a refusal said in the
dialog, a preview played in the playground, Save as a new run (the previewed adapter itself), and its export."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.methods import catalog
from tests.studio.conftest import train_tiny_project

RUN_TIMEOUT_MS = 180_000
ROOT = Path(__file__).resolve().parents[2]


def save_picture(window, dialog, out: Path) -> None:
    """``UPDATE_DOCS_SCREENSHOT=1``: the dialog beside the window's playground with the preview's answers, as
    this test left them (docs/combine.md shows it: real runs, a real preview, nothing drawn by hand)."""
    from PySide6.QtGui import QColor, QPainter, QPixmap

    left, right = dialog.grab(), window.grab()
    picture = QPixmap(left.width() + right.width() + 12, max(left.height(), right.height()))
    picture.fill(QColor("#e0e0e0"))
    painter = QPainter(picture)
    painter.drawPixmap(0, 0, left)
    painter.drawPixmap(left.width() + 12, 0, right)
    painter.end()
    assert picture.save(str(out))


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """Two runs of the same settings (conftest's `trained_window` opens a copy)."""
    return train_tiny_project(tmp_path_factory.mktemp("combine"), rows=16, completion=" zebra zebra zebra", runs=2,
                              max_steps=10, eval_steps=0, warmup_steps=0, eval_samples=0)


def rows_shown(dialog) -> dict[str, bool]:
    return {name: dialog.form.isRowVisible(widget)
            for name, widget in (("density", dialog.density), ("sign", dialog.sign), ("svd_rank", dialog.svd_rank))}


@pytest.mark.slow
def test_combine_preview_save_and_export(trained_window, qtbot, tmp_path):
    from safetensors.torch import load_file

    from studio.widgets.export_dialog import ExportDialog

    window = trained_window
    tc, project = window.training, window.project
    assert [r.status for r in project.runs()] == ["completed", "completed"]
    for i in range(2):
        tc.runs.table.topLevelItem(i).setSelected(True)
    actions = {a.text(): a for a in tc.runs.menu_actions(2)}
    actions["Combine selected runs…"].trigger()  # the runs list's context menu, with the selection
    dialog = tc.combine
    qtbot.addWidget(dialog)
    assert dialog.checked() == [1, 2] and [dialog.weights[i].value() for i in (1, 2)] == [0.5, 0.5]
    assert dialog.how.currentData() == "cat" and rows_shown(dialog) == {"density": False, "sign": False, "svd_rank": False}
    assert dialog.name.placeholderText() == "0.5×run 1 + 0.5×run 2 (cat)" and dialog.save_button.isEnabled()
    # only the knobs the type needs
    dialog.how.setCurrentIndex(dialog.how.findData("svd"))
    assert rows_shown(dialog) == {"density": False, "sign": False, "svd_rank": True}
    dialog.how.setCurrentIndex(dialog.how.findData("magnitude_prune"))
    assert rows_shown(dialog) == {"density": True, "sign": False, "svd_rank": False}
    dialog.how.setCurrentIndex(dialog.how.findData("dare_ties_svd"))
    assert rows_shown(dialog) == {"density": True, "sign": True, "svd_rank": True}
    # an impossible choice is said, and nothing can be started
    dialog.set_checked([1])
    assert "at least two runs (got 1)" in dialog.message.text()
    assert not dialog.preview_button.isEnabled() and not dialog.save_button.isEnabled()
    dialog.set_checked([1, 2])
    dialog.how.setCurrentIndex(dialog.how.findData("ties"))
    dialog.density.setValue(0.5)
    assert dialog.problem == "" and dialog.message.text() == "" and dialog.preview_button.isEnabled()

    # Preview: built off the GUI thread, played in the playground before anything is saved
    with qtbot.waitSignal(dialog.preview_ready, timeout=RUN_TIMEOUT_MS) as ready:
        dialog.preview_button.click()
        assert not dialog.preview_button.isEnabled() and dialog.progress.isVisible()
    label, folder, model = ready.args
    assert label == "Preview (not saved): 0.5×run 1 + 0.5×run 2 (ties)" and model == "tiny-llama"
    assert len(project.runs()) == 2  # nothing recorded yet
    pg = tc.playground
    assert tc.tabs.currentWidget() is pg and pg.checkpoint.currentData() == folder and pg.checkpoint.currentText() == label
    pg.prompt.setPlainText("Q3:")
    pg.max_tokens.setValue(6)
    with qtbot.waitSignal(pg.finished, timeout=RUN_TIMEOUT_MS):
        pg.go.click()
    assert "<span" not in pg.status.text(), pg.status.text()
    assert pg.outputs["adapter"] and pg.outputs["adapter"] != pg.outputs["base"]
    previewed = load_file(str(Path(folder) / "adapter_model.safetensors"))
    if os.environ.get("UPDATE_DOCS_SCREENSHOT"):
        save_picture(window, dialog, ROOT / "docs" / "screenshot-combine.png")

    # Save: the previewed adapter becomes run 3 (moved in, not built again), listed and shown in the playground
    with qtbot.waitSignal(dialog.saved, timeout=RUN_TIMEOUT_MS) as saved:
        dialog.save_button.click()
    run_id = saved.args[0]
    run = project.run(run_id)
    assert run_id == 3 and run.name == "0.5×run 1 + 0.5×run 2 (ties)" and run.status == "completed"
    assert run.config.combined["weights"] == [0.5, 0.5] and run.config.combined["density"] == 0.5
    adapter = project.last_checkpoint(run_id) / "adapter"
    stored = load_file(str(adapter / "adapter_model.safetensors"))
    assert stored.keys() == previewed.keys() and all((stored[k] == previewed[k]).all() for k in stored)
    assert not Path(folder).exists()
    names = [tc.runs.table.topLevelItem(i).text(0) for i in range(tc.runs.table.topLevelItemCount())]
    assert names[-1] == "0.5×run 1 + 0.5×run 2 (ties)" and tc.runs.selected_ids() == [run_id]
    assert pg.preview is None and pg.checkpoint.currentData() == str(adapter.parent)

    # exported like any run
    export = ExportDialog(project, run_id, window)
    qtbot.addWidget(export)
    assert export.checkpoint.itemText(0) == "The combined adapter" and export.checkpoint.currentData() == "last"
    export.adapter.setChecked(True)
    export.folder.setText(str(tmp_path / "out"))
    with qtbot.waitSignal(export.exported, timeout=RUN_TIMEOUT_MS) as done:
        export.export_button.click()
    assert done.args[0]["max_abs_diff"] < 1e-3 and (tmp_path / "out" / "adapter_config.json").is_file()

    dialog.close()
    assert not list(project.artifacts_dir.glob(".combine-*"))  # no preview folder left behind


@pytest.mark.slow
def test_only_the_methods_combination_types_can_be_picked(trained_window, qtbot):
    from studio.widgets.combine_dialog import CombineDialog

    dialog = CombineDialog(trained_window.project, [1, 2], trained_window)
    qtbot.addWidget(dialog)
    model = dialog.how.model()

    def enabled() -> set[str]:
        return {dialog.how.itemData(row) for row in range(dialog.how.count()) if model.item(row).isEnabled()}

    assert enabled() == set(catalog.facts("LORA").combination_types)  # LoRA runs: every type
    dialog.how.setCurrentIndex(dialog.how.findData("ties"))
    # Were the two runs IA3 (its scaling vectors only add linearly), only "linear" could be picked, and the
    # dialog moves off "ties" to it.
    dialog.methods = {1: "IA3", 2: "IA3"}
    dialog._changed()
    assert enabled() == {"linear"} and dialog.how.currentData() == "linear"
    assert "IA³ runs cannot be combined this way" in model.item(dialog.how.findData("ties")).toolTip()
