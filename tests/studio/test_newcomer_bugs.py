"""What a newcomer met in the studio (issue 19): each test drives real widgets over a real project file
(and, where a run is needed, the real worker on tiny-llama) and failed on the code before its fix."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent

from core.store import Project
from tests.studio.conftest import LOAD_TIMEOUT_MS, train_tiny_project, wait_cost

RUN_TIMEOUT_MS = 120_000
SCREEN_W = 1600  # the Xvfb screen the newcomer used (1600×1000)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A project with two runs trained by the real worker (through the CLI's code path)."""
    return train_tiny_project(tmp_path_factory.mktemp("newcomer"), rows=16, completion=" zebra zebra", runs=2,
                              max_steps=12, eval_steps=0, save_steps=6, warmup_steps=0)


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
    # written at once, or with the save timer when it follows another write within 0.3 s (studio/project_state.py)
    qtbot.waitUntil(lambda: _saved_targets(window.project.path) == ["v_proj"], timeout=5_000)


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
    qtbot.waitUntil(lambda: _saved_targets(window.project.path) == ["query_key_value"], timeout=5_000)  # coalesced write
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


# ---- 4. Train ignored errors the window showed; a failed setup offered a Resume that cannot work --------


def _runs(path: Path) -> list:
    with Project.open(path) as project:
        return project.runs()


def test_train_refuses_the_errors_the_window_shows(training_window, qtbot, tmp_path):
    window = training_window(5)
    tc = window.training
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a", "completion": "b"}\n{"prompt": "oops"\n')
    window.data_panel.path_edit.setText(str(bad))
    window.data_panel.path_edit.editingFinished.emit()
    with qtbot.waitSignal(window.preview_ready, timeout=LOAD_TIMEOUT_MS):
        window.data_panel.preview_button.click()
    assert window.data_panel.error.isVisibleTo(window.data_panel)
    assert tc.train() is None
    assert _runs(window.project.path) == []  # no failed run left behind
    assert "bad.jsonl" in tc.refusal and "2" in tc.refusal, tc.refusal
    assert "bad.jsonl" in window.statusBar().currentMessage()

    window.edit_targets(["nope_proj"], None)  # a target that matches nothing, flagged in the tree
    assert "matches no module" in window.tree.flags.text()
    assert tc.train() is None and "nope_proj" in tc.refusal, tc.refusal
    assert _runs(window.project.path) == []


def test_failed_setup_shows_a_message_not_a_traceback_and_no_resume(training_window, qtbot, tmp_path):
    window = training_window(5)
    tc = window.training
    # a data file broken after the window opened: nothing on screen says so, the worker finds it
    Path(window.settings.data["path"]).write_text('{"prompt": "a", "completion": "b"}\n{"prompt": \n')
    with qtbot.waitSignal(tc.run_ended, timeout=RUN_TIMEOUT_MS) as ended:
        run_id = tc.train()
        assert run_id is not None
    assert ended.args[1] == "failed"
    view = tc.view
    assert "failed" in view.status.text()
    assert not view.resume.isVisibleTo(view)  # no checkpoint: nothing to resume from
    log = view.log.toPlainText()
    assert "Traceback" not in log and 'File "' not in log, log
    run = _runs(window.project.path)[-1]
    if run.error_detail:  # the technical detail stays one click away
        assert view.details_button.isVisibleTo(view)
        view.details_button.click()
        assert view.details.isVisibleTo(view) and run.error_detail.strip()[:40] in view.details.toPlainText()


def test_resume_of_a_completed_run_says_why_not(trained_window, qtbot):
    window = trained_window
    tc = window.training
    tc.confirm = lambda question, text: "yes"
    run_id = tc.view.run_id
    assert _runs(window.project.path)[-1].status == "completed"
    assert not tc.view.resume.isVisibleTo(tc.view)
    tc.runs.select(run_id)
    tc.runs.selection_changed.emit([run_id])
    assert not tc.act_resume.isEnabled()
    assert "complete" in tc.act_resume.toolTip() or "complete" in tc.act_resume.statusTip()
    actions = tc.runs.menu_actions(run_id)
    assert actions and not actions[0].isEnabled() and "complete" in actions[0].text()
    assert tc.train(resume=run_id) is None
    message = window.statusBar().currentMessage()
    assert "complete" in message and "--steps" not in message, message
    assert _runs(window.project.path)[-1].status == "completed"


# ---- 6. smaller ---------------------------------------------------------------------------------------


def _wheel(widget, dy: int = -120) -> None:
    from PySide6.QtWidgets import QApplication

    pos = QPointF(widget.rect().center())
    event = QWheelEvent(pos, QPointF(widget.mapToGlobal(pos.toPoint())), QPoint(0, 0), QPoint(0, dy),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def test_wheel_over_the_training_form_scrolls_instead_of_changing_values(make_window, qtbot):
    window = make_window(model="tiny-llama")
    window.resize(1284, 600)
    window.tabs.setCurrentIndex(1)  # Training
    form = window.training_form
    spin = form.fields["warmup_steps"].widget
    before = spin.value()
    window.setFocus()
    assert not spin.hasFocus()
    _wheel(spin)
    assert spin.value() == before  # not focused: the wheel is not a value change
    area = window.tabs.widget(1)
    if area.verticalScrollBar().maximum() > 0:  # the form is taller than the tab: the wheel scrolled it
        assert area.verticalScrollBar().value() > 0
    assert window.settings.training["warmup_steps"] == before
    spin.setFocus()
    qtbot.waitUntil(spin.hasFocus)
    _wheel(spin, 120)
    assert spin.value() != before  # focused (clicked / tabbed into): the wheel changes it as usual


def test_params_column_shows_its_unit_at_the_default_size(make_window, qtbot):
    window = make_window(model="tiny-llama")
    window.resize(1284, 780)
    tree = window.tree.tree
    font = tree.font()
    font.setPointSize(15)  # a person's larger font (the newcomer's X session read "134.5" without "M")
    tree.setFont(font)
    with qtbot.waitSignal(window.model_ready, timeout=LOAD_TIMEOUT_MS):
        window.choose_model("tiny-gpt2")
    qtbot.wait(20)
    root = tree.topLevelItem(0)
    text = root.text(3)
    assert text.endswith(("K", "M", "B")), text
    need = tree.fontMetrics().horizontalAdvance(text)
    assert tree.header().sectionSize(3) >= need + 6, (tree.header().sectionSize(3), need)
    # and the column is in view: the sections fit the viewport
    assert tree.header().sectionPosition(3) + tree.header().sectionSize(3) <= tree.viewport().width() + 1


def test_runs_list_follows_the_same_events_as_the_progress_bar(training_window, qtbot):
    from core import protocol as p

    window = training_window(300)
    tc = window.training
    tc.worker_program = lambda project, run_id: [__import__("sys").executable, "-c", "import time; time.sleep(30)"]
    run_id = tc.train()
    assert run_id is not None
    tc.client.events.emit([p.Started(run_id, 300), p.Step(10, 0.1, 2.5, 1e-3, tokens_per_s=100.0, eta_s=5.0, elapsed_s=1.0)])
    assert "10/300" in tc.view.progress.format()
    row = next(tc.runs.table.topLevelItem(i) for i in range(tc.runs.table.topLevelItemCount())
               if tc.runs.table.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole) == run_id)
    assert row.text(3) == "10/300", row.text(3)
    assert row.text(4) == "2.5000"
    tc.client.events.emit([p.Step(11, 0.1, 2.4, 1e-3)])
    assert row.text(3) == "11/300"
    with qtbot.waitSignal(tc.run_ended, timeout=30_000):
        tc.stop(confirm=False)


def test_playground_picks_the_newest_finished_run_and_names_the_model(trained_window, qtbot):
    from core import protocol as p

    window = trained_window
    pg = window.training.playground
    assert "tiny-llama" in pg.model_label.text()
    # a third run finishes while the window is open
    path = window.project.path
    with Project.open(path) as project:
        old = project.last_checkpoint(project.runs()[-1].id)
        rid = project.create_run()
        project.claim_run(rid)
        dest = project.run(rid).checkpoint_dir / "checkpoint-12"
        shutil.copytree(old, dest)
        project.record(rid, [p.Started(rid, 12), p.Step(12, 0.1, 1.0, 1e-3), p.Checkpoint(12, str(dest)),
                             p.Finished("completed", step=12)])
    window.training.refresh_runs()
    assert pg.checkpoint.currentData() == str(dest), pg.checkpoint.currentText()
    assert f"run {rid}" in pg.checkpoint.currentText()
    assert "tiny-llama" in pg.model_label.text() and f"run {rid}" in pg.model_label.text()


def test_export_default_folder_is_visible(make_window, qtbot, tmp_path, monkeypatch):
    from studio.widgets.export_dialog import ExportDialog, default_export_folder

    home = tmp_path / "home"
    (home / "Documents").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    hidden = tmp_path / "home" / ".local" / "share" / "AdapterStudio" / "My first project.adapterstudio"
    folder = default_export_folder(hidden, 3)
    assert not any(part.startswith(".") for part in folder.relative_to(home).parts), folder
    assert folder.parent == home / "Documents" / "Adapter Studio exports"
    visible = tmp_path / "work" / "p.adapterstudio"
    assert default_export_folder(visible, 2).parent == visible.parent  # beside a project the user placed
    window = make_window(model="tiny-llama")
    run_id = window.project.create_run()
    dialog = ExportDialog(window.project, run_id, window)
    qtbot.addWidget(dialog)
    assert dialog.folder.text() == str(default_export_folder(window.project.path, run_id))
    assert dialog.folder.toolTip() == dialog.folder.text()  # shown in full


def test_tokens_per_second_is_steady_over_steps_of_different_lengths(tmp_path):
    """The progress bar's tokens/s (Step.tokens_per_s): one step's tokens over its own duration jumped
    ~50x between short and long batches at a steady speed; over the last steps' compute it stays put."""
    import statistics

    from core import LoraConfig, get_peft_model
    from core.data import DataConfig, prepare
    from core.models import load_model
    from core.protocol import Step
    from core.train import TrainingArguments, train

    recs = [{"prompt": "Q" * (1 if i % 3 else 40) + f"{i}?", "completion": " ok" * (1 if i % 2 else 20)} for i in range(64)]
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps(r) for r in recs))
    model, tok = load_model("tiny-llama")
    peft = get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    data = prepare(DataConfig(path=str(tmp_path / "d.jsonl"), validation_split=0.0, max_length=128), tok)
    args = TrainingArguments(max_steps=80, batch_size=2, warmup_steps=0, eval_steps=0, save_steps=0, learning_rate=1e-3)
    events = list(train(peft, tok, data, args, tmp_path / "out"))
    rates = [ev.tokens_per_s for ev in events if isinstance(ev, Step)]
    assert len(rates) == 80, [ev for ev in events if not isinstance(ev, Step)]
    tail = rates[20:]  # once the window is full
    spread = max(tail) / min(tail)
    print(f"tokens/s over steps 21-80: min {min(tail):.0f}, median {statistics.median(tail):.0f}, max {max(tail):.0f}")
    assert spread < 12, spread  # the per-step figure: ~49x on the shared 2-core machine


def _wheel_values(widget) -> list:
    """What one wheel notch each way does to ``widget`` (its value or index after each notch, set back between)."""
    from PySide6.QtWidgets import QComboBox

    get = widget.currentIndex if isinstance(widget, QComboBox) else widget.value
    put = widget.setCurrentIndex if isinstance(widget, QComboBox) else widget.setValue
    start, seen = get(), []
    for dy in (-120, 120):
        _wheel(widget, dy)
        seen.append(get())
        put(start)
    return seen


def _wheelable(root):
    """The spin boxes and combos under ``root`` that a wheel notch could change (enabled, more than one value)."""
    from PySide6.QtWidgets import QAbstractScrollArea, QAbstractSpinBox, QComboBox

    for w in root.findChildren(QAbstractSpinBox) + root.findChildren(QComboBox):
        if not w.isEnabled() or (isinstance(w, QComboBox) and w.count() < 2):
            continue
        area = w.parentWidget()
        while area is not None and not isinstance(area, QAbstractScrollArea):
            area = area.parentWidget()
        yield w, area


def test_wheel_over_any_unfocused_box_in_a_scroll_area_changes_nothing(make_window, qtbot, tmp_path):
    """Every spin box and combo inside a scrolling panel of the window (the Data tab's format and column
    pickers among them) ignores a wheel it gets without the focus; with the focus the wheel works."""
    from PySide6.QtWidgets import QSpinBox

    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"q": f"q{i}", "a": f"a{i}", "extra": "x"}) + "\n" for i in range(4)))
    window = make_window(model="tiny-llama")
    with qtbot.waitSignal(window.preview_ready, timeout=LOAD_TIMEOUT_MS):
        window.apply_section("data", dict(window.settings.data, path=str(data)))
        window.preview_data()
    qtbot.waitUntil(lambda: window.data_panel.role_boxes["prompt_column"].count() > 1)
    window.setFocus()
    saved = window.settings.to_dict()
    checked, changed = [], []
    for tab in range(window.tabs.count()):
        window.tabs.setCurrentIndex(tab)
        for w, area in _wheelable(window):
            if area is None or not w.isVisible() or w in checked:
                continue
            checked.append(w)
            before = w.currentIndex() if hasattr(w, "currentIndex") else w.value()
            if _wheel_values(w) != [before, before]:
                changed.append(w.objectName() or f"{type(w).__name__} under {area.objectName() or type(area).__name__}")
    assert window.data_panel.format_box in checked and window.data_panel.role_boxes["prompt_column"] in checked
    assert changed == [], f"the wheel changed {changed}"
    assert window.settings.to_dict() == saved  # a column picker's wheel was a pick: it rewrote the mapping

    box = window.data_panel.format_box  # with the focus (a click, Tab) the wheel picks as usual
    box.setFocus()
    qtbot.waitUntil(box.hasFocus)
    assert _wheel_values(box) != [box.currentIndex()] * 2
    assert any(isinstance(w, QSpinBox) for w in checked)


def test_wheel_over_the_launch_dialogs_boxes_changes_nothing(qtbot, tmp_path):
    """The multi-GPU launch dialog's process count, parallelism and port take the wheel only when focused."""
    from PySide6.QtWidgets import QAbstractSpinBox, QComboBox

    from core.launch import Gpu
    from studio.widgets.launch_dialog import LaunchDialog

    dialog = LaunchDialog(tmp_path / "p.adapterstudio", [Gpu(i, "NVIDIA H200", 143771, "9.0") for i in range(4)])
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.processes.setValue(2)
    dialog.port.setValue(29_600)
    boxes = [w for w in dialog.findChildren(QAbstractSpinBox) + dialog.findChildren(QComboBox) if w.isEnabled()]
    assert {dialog.processes, dialog.port, dialog.sharding} <= set(boxes)
    dialog.setFocus()
    for w in boxes:
        before = w.currentIndex() if isinstance(w, QComboBox) else w.value()
        assert _wheel_values(w) == [before, before], w.objectName() or type(w).__name__
    dialog.port.setFocus()
    qtbot.waitUntil(dialog.port.hasFocus)
    assert _wheel_values(dialog.port) == [29_599, 29_601]  # a notch down, a notch up
