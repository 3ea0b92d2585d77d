"""The runs list (status, losses, overlays, config diff), export (merged and adapter, verified) and the
playground (base vs a trained adapter), on a project trained once by the real worker on tiny-llama."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from core import protocol as p
from core.store import Project
from tests.studio.conftest import train_tiny_project

RUN_TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A project with one run trained by the real worker (through the CLI's code path)."""
    return train_tiny_project(tmp_path_factory.mktemp("trained"), rows=24, completion=" zebra zebra zebra", runs=1,
                              max_steps=20, eval_steps=10, save_steps=10, warmup_steps=2)


def fake_run(project: Project, losses: list[float], evals: list[float], **training) -> int:
    run_id = project.create_run(training_overrides=training)
    project.claim_run(run_id)
    events = [p.Started(run_id, len(losses))]
    events += [p.Step(i + 1, 0.1, loss, 1e-3) for i, loss in enumerate(losses)]
    events += [p.Eval(i + 1, e) for i, e in enumerate(evals)]
    events.append(p.Finished("completed", step=len(losses)))
    project.record(run_id, events)
    return run_id


def test_runs_list_overlay_and_diff(make_window, qtbot, tmp_path):
    from studio.widgets.runs_list import config_diff

    window = make_window("tiny-llama")
    with Project.open(window.project.path) as project:
        a = fake_run(project, [3.0, 2.0, 1.5], [2.5, 1.8, 1.7])
        b = fake_run(project, [3.0, 2.5, 2.2, 2.0], [2.9, 2.1], learning_rate=1e-4)
    tc = window.training
    tc.project_opened()
    table = tc.runs.table
    assert table.topLevelItemCount() == 2
    row = [table.topLevelItem(0).text(i) for i in range(8)]
    assert row[1].endswith("completed") and row[2] == "LORA" and row[6] == "1.7000"  # best eval
    assert table.topLevelItem(1).text(6) == "2.1000"
    # select both: overlays + a config diff naming the learning rate
    table.topLevelItem(0).setSelected(True)
    table.topLevelItem(1).setSelected(True)
    assert len(tc.view.overlays) == 1
    assert any(k == "training.learning_rate" for k, *_ in tc.runs.diff_rows)
    assert "learning_rate" in tc.runs.diff.toPlainText()
    assert config_diff({"a": {"x": 1}}, {"a": {"x": 2}, "b": 3}) == [("a.x", 1, 2), ("b", None, 3)]
    # plots export as PNG and SVG
    png, svg = tc.view.save_plot(str(tmp_path / "c.png")), tc.view.save_plot(str(tmp_path / "c.svg"))
    assert Path(png).stat().st_size > 2000 and "<svg" in Path(svg).read_text()[:2000]


def test_mergeable_is_the_method_files_fact():
    """The export dialog and core.export both ask the catalog, which reads each method file's FACTS."""
    from core.methods import catalog

    assert {m for m in catalog.names() if catalog.facts(m).mergeable} == {"LORA", "ADALORA", "IA3"}


@pytest.mark.slow
def test_export_merged_and_adapter_verified(trained_window, qtbot, tmp_path):
    from studio.widgets.export_dialog import ExportDialog

    window = trained_window
    tc = window.training
    run_id = window.project.runs()[-1].id
    assert window.project.runs()[-1].status == "completed"
    for kind in ("merged", "adapter"):
        dialog = ExportDialog(window.project, run_id, window)
        qtbot.addWidget(dialog)
        dialog.exported.connect(lambda *_: tc.refresh_runs())
        (dialog.merged if kind == "merged" else dialog.adapter).setChecked(True)
        dialog.folder.setText(str(tmp_path / f"out-{kind}"))
        with qtbot.waitSignal(dialog.exported, timeout=RUN_TIMEOUT_MS) as done:
            dialog.export_button.click()
        assert done.args[0]["kind"] == kind and "Verified" in dialog.result.text()
        assert done.args[0]["max_abs_diff"] < 1e-3
    assert (tmp_path / "out-merged" / "config.json").is_file()
    assert (tmp_path / "out-adapter" / "adapter_config.json").is_file()
    exports = window.project.exports()
    assert [e["kind"] for e in exports] == ["merged", "adapter"] and all(e["verified"] for e in exports)
    assert tc.runs.exports.count() == 2 and "verified" in tc.runs.exports.item(0).text()


def test_export_explains_non_mergeable(make_window, qtbot):
    from studio.widgets.export_dialog import ExportDialog

    window = make_window("tiny-llama", settings={"method_config": {"peft_type": "PROMPT_TUNING", "num_virtual_tokens": 4}})
    run_id = window.project.create_run()
    dialog = ExportDialog(window.project, run_id, window)
    qtbot.addWidget(dialog)
    assert not dialog.merged.isEnabled() and dialog.adapter.isChecked()
    assert "cannot be merged" in dialog.why.text()
    assert not dialog.export_button.isEnabled()  # no checkpoint yet, and it says so
    assert "no checkpoint" in dialog.result.text()


@pytest.mark.slow
def test_playground_base_and_adapter_differ(trained_window, qtbot):
    window = trained_window
    pg = window.training.playground
    assert pg.checkpoint.count() >= 1 and "step 20" in pg.checkpoint.itemText(0)
    pg.prompt.setPlainText("Q3:")
    pg.max_tokens.setValue(6)
    texts = []
    pg.bridge.text.connect(lambda side, text: texts.append(side))
    with qtbot.waitSignal(pg.finished, timeout=RUN_TIMEOUT_MS):
        pg.go.click()
        assert not pg.go.isEnabled()  # the GUI thread is free while it generates
    assert "Error" not in pg.status.text() and "<span" not in pg.status.text(), pg.status.text()
    assert texts.count("base") >= 2 and texts.count("adapter") >= 2  # streamed token by token
    assert pg.outputs["adapter"] != pg.outputs["base"]
    assert pg.base_out.toPlainText() == pg.outputs["base"]


@pytest.mark.slow
def test_tree_coloured_by_delta_w(trained_window, qtbot):
    window = trained_window
    ad = window.training.adaptation
    assert ad.checkpoint.count() >= 1
    with qtbot.waitSignal(ad.computed, timeout=RUN_TIMEOUT_MS):
        ad.show_button.click()
    names = set(ad.values)
    assert "model.layers.0.self_attn.q_proj" in names and "model.layers.1.self_attn.v_proj" in names
    assert all(v > 0 for v in ad.values.values())
    item = window.tree.row("model.layers.0.self_attn.q_proj")
    assert item.data(0, Qt.ItemDataRole.DecorationRole) is not None and "‖ΔW‖" in item.toolTip(3)
    assert ad.image.image is not None


def test_adalora_rank_slider_from_history(qtbot):
    from studio.widgets.adaptation import AdaptationView

    view = AdaptationView()
    qtbot.addWidget(view)
    mods = ["model.layers.0.self_attn.q_proj", "model.layers.1.self_attn.q_proj"]
    view.set_data({"method": "ADALORA", "metric": "rank",
                   "modules": {mods[0]: {"norm": 1.0, "rank": 2}, mods[1]: {"norm": 2.0, "rank": 6}},
                   "history": {"modules": mods, "events": [{"step": 10, "budget": 16, "kept": [8, 8], "final": False},
                                                           {"step": 20, "budget": 8, "kept": [2, 6], "final": True}]}})
    assert view.slider.isVisibleTo(view) and view.slider.maximum() == 2
    view.slider.setValue(0)
    assert view.shown == {mods[0]: 8.0, mods[1]: 8.0} and "budget 16" in view.step_label.text()
    view.slider.setValue(2)
    assert view.shown == {mods[0]: 2.0, mods[1]: 6.0}


def test_chat_mode_uses_the_tokenizer_template():
    from core.models import tiny_tokenizer
    from studio.widgets.playground import encode_prompt

    tok = tiny_tokenizer()
    ids, note = encode_prompt(tok, "What is 2+2?", chat=True)
    assert "<|im_start|>assistant" in tok.decode(ids) and note == ""
    plain, _ = encode_prompt(tok, "What is 2+2?", chat=False)
    assert tok.decode(plain).strip() == "What is 2+2?"
