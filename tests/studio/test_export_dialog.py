"""The export dialog on a real run: the checkpoint choice (final, a step, the best by a metric the run
evaluated), GGUF and Ollama exports checked by llama.cpp, and the mouse wheel over its choices.

The module fixture trains tiny-llama for 8 steps through the CLI's code path, evaluating and saving a
checkpoint every 4 steps (checkpoints 4 and 8 on disk, eval loss and the task metrics at both)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core import protocol as p
from tests.studio.conftest import train_tiny_project

RUN_TIMEOUT_MS = 180_000
METRICS = ("eval_loss", "exact_match", "contains", "f1", "rouge_l")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """The evaluated run (conftest's `trained_window` opens a copy of it)."""
    return train_tiny_project(tmp_path_factory.mktemp("evaluated"), rows=24, completion=" zebra zebra zebra", runs=1,
                              max_steps=8, eval_steps=4, save_steps=4, warmup_steps=0, eval_samples=2,
                              eval_max_new_tokens=4)


@pytest.fixture
def window(trained_window):
    return trained_window


def expected_best(project, run_id: int, metric: str) -> tuple[int, float]:
    """The best checkpoint step by ``metric``, worked out here from the project file's rows: the lowest eval
    loss or the highest task score among the checkpoints on disk, the earlier step on a tie."""
    steps = [r["step"] for r in project.checkpoints(run_id) if Path(r["path"]).is_dir()]
    values = {r["step"]: r[metric] for r in project.eval_scores(run_id) if r["step"] in steps and r.get(metric) is not None}
    sign = 1 if metric == "eval_loss" else -1
    step = min(values, key=lambda s: (sign * values[s], s))
    return step, values[step]


def _wheel(widget, dy: int) -> None:
    """A wheel turn over the middle of ``widget`` (as tests/studio/test_newcomer_bugs.py sends it)."""
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    pos = QPointF(widget.rect().center())
    event = QWheelEvent(pos, QPointF(widget.mapToGlobal(pos.toPoint())), QPoint(0, 0), QPoint(0, dy),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def adapter_tensors(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "adapter_model.safetensors"))


@pytest.mark.slow
def test_export_takes_the_best_checkpoint_by_a_metric_and_records_it(window, qtbot, tmp_path):
    import torch

    from studio.widgets.export_dialog import ExportDialog

    project, tc = window.project, window.training
    run = project.runs()[-1]
    assert run.status == "completed" and run.step == 8
    ck = {r["step"]: Path(r["path"]) for r in project.checkpoints(run.id)}
    assert sorted(ck) == [4, 8] and all(path.is_dir() for path in ck.values())
    dialog = ExportDialog(project, run.id, window)
    qtbot.addWidget(dialog)
    dialog.show()
    items = [dialog.checkpoint.itemText(i) for i in range(dialog.checkpoint.count())]
    assert items == ["Final weights — step 8", "Best by a metric the run evaluated", "step 8 — checkpoint-8",
                     "step 4 — checkpoint-4"]
    assert dialog.checkpoint.currentData() == "last" and not dialog.best_by.isEnabled() and dialog.best.isHidden()
    # "Best by" offers the metrics this run has in the project file: eval loss and the four task scores
    assert [dialog.best_by.itemData(i) for i in range(dialog.best_by.count())] == list(METRICS)
    dialog.checkpoint.setCurrentIndex(1)
    assert dialog.best_by.isEnabled() and dialog.best.isVisible()
    for i, metric in enumerate(METRICS):
        dialog.best_by.setCurrentIndex(i)
        step, value = expected_best(project, run.id, metric)
        shown = f"{value:.4f}" if metric == "eval_loss" else f"{value:.3f}"
        assert f": step {step} (checkpoint-{step}), score {shown}" in dialog.best.text(), (metric, dialog.best.text())
    # a metric whose best is not the last checkpoint, so exporting the final weights would fail the comparison
    # below (the task scores tie on this tiny run; a tie goes to the earlier step)
    metric = next(m for m in METRICS if expected_best(project, run.id, m)[0] == 4)
    dialog.best_by.setCurrentIndex(METRICS.index(metric))
    dialog.adapter.setChecked(True)
    dialog.folder.setText(str(tmp_path / "best-adapter"))
    dialog.exported.connect(lambda *_: tc.refresh_runs())
    with qtbot.waitSignal(dialog.exported, timeout=RUN_TIMEOUT_MS) as done:
        dialog.export_button.click()
    assert done.args[0]["checkpoint"] == str(ck[4])
    assert "Verified" in dialog.result.text() and "from checkpoint-4 (best " in dialog.result.text(), dialog.result.text()
    exported = adapter_tensors(tmp_path / "best-adapter")
    saved, final = adapter_tensors(ck[4] / "adapter"), adapter_tensors(ck[8] / "adapter")
    assert set(exported) == set(saved) and len(exported) >= 4
    assert all(torch.equal(exported[k], saved[k]) for k in saved)
    assert any(not torch.equal(exported[k], final[k]) for k in final)  # step 8's weights differ: the test can tell
    record = project.exports()[-1]
    assert record["checkpoint"] == ck[4] and record["kind"] == "adapter" and record["verified"]
    assert record["detail"]["checkpoint_step"] == 4 and record["detail"]["chosen"] == "best"
    assert record["detail"]["metric"] == metric and record["detail"]["score"] == expected_best(project, run.id, metric)[1]
    line = tc.runs.exports.item(tc.runs.exports.count() - 1).text()
    assert f"checkpoint-4 (best {metric}) · adapter" in line, line
    # a step picked by hand goes the same way (core.evaluate.choose_checkpoint)
    dialog.checkpoint.setCurrentIndex(2)
    assert dialog.choice() == (ck[8], {"checkpoint_step": 8, "chosen": "step"})


def run_export(window, qtbot, kind: str, folder: Path, gguf_type: str = "f16", name: str = "") -> tuple[dict, list[str]]:
    """Export the window's last run through the dialog as ``kind`` (the target's radio button) and wait for it:
    (the exported info plus the result line's ``text``, the progress messages said on the way)."""
    from studio.widgets.export_dialog import ExportDialog

    project, tc = window.project, window.training
    dialog = ExportDialog(project, project.runs()[-1].id, window)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.exported.connect(lambda *_: tc.refresh_runs())
    getattr(dialog, kind).setChecked(True)
    dialog.gguf_type.setCurrentText(gguf_type)
    dialog.ollama_name.setText(name)
    dialog.folder.setText(str(folder))
    said: list[str] = []
    dialog._progress.connect(lambda fraction, message: said.append(message))
    with qtbot.waitSignal(dialog.exported, timeout=RUN_TIMEOUT_MS) as done:
        dialog.export_button.click()
        assert not dialog.export_button.isEnabled() and dialog.progress.isVisible()
    assert dialog.progress.value() == dialog.progress.maximum()  # finished
    assert dialog.export_button.isEnabled()
    return {**done.args[0], "text": dialog.result.text()}, said


def test_serving_compatible_adapter_from_the_dialog_bakes_the_scale_and_says_which_servers(window, qtbot, tmp_path):
    import json

    import torch
    from safetensors.torch import load_file

    info, _ = run_export(window, qtbot, "serving", tmp_path / "serve")
    text = info["text"]
    assert "✓ Verified" in text and "serving-adapter written to" in text, text
    assert "vLLM" in text and "TGI / LoRAX" in text, text
    config = json.loads((tmp_path / "serve" / "adapter_config.json").read_text())
    assert config["lora_alpha"] == config["r"] and not config.get("use_rslora")
    assert window.project.exports()[-1]["kind"] == "serving-adapter"
    # the trained adapter's scale alpha / r now sits inside B: the copy's B is the checkpoint's B times it
    from core.runs import adapter_folder

    original = adapter_folder(Path(info["checkpoint"]))
    trained = json.loads((original / "adapter_config.json").read_text())
    scale = trained["lora_alpha"] / trained["r"]
    assert scale != 1.0  # else the check below could not tell a baked scale from a plain copy
    before = load_file(str(original / "adapter_model.safetensors"))
    after = load_file(str(tmp_path / "serve" / "adapter_model.safetensors"))
    b_keys = [k for k in before if k.endswith("lora_B.weight")]
    assert b_keys and sorted(after) == sorted(before)
    for key in b_keys:
        assert torch.allclose(after[key], before[key] * scale, atol=1e-6), key


@pytest.mark.slow
def test_gguf_and_ollama_from_the_dialog_are_checked_by_llama_cpp(window, qtbot, tmp_path, monkeypatch):
    from llama_cpp import Llama

    from studio.widgets.export_dialog import ExportDialog

    project, tc = window.project, window.training
    run = project.runs()[-1]
    # no ollama on PATH (whatever this machine has): the dialog shows the command instead of running it
    monkeypatch.setenv("PATH", os.pathsep.join(d for d in os.environ["PATH"].split(os.pathsep)
                                               if not (Path(d) / "ollama").exists()))

    def export(kind: str, folder: Path, gguf_type: str = "f16", name: str = "") -> tuple[dict, list[str]]:
        return run_export(window, qtbot, kind, folder, gguf_type, name)

    # the merged model as one q8_0 GGUF file beside the folder name
    info, said = export("gguf", tmp_path / "m", "q8_0")
    gguf = tmp_path / "m-q8_0.gguf"
    assert info["path"] == str(gguf) and gguf.is_file()
    assert "loading the model and the adapter" in said
    text = info["text"]
    assert "✓ Verified" in text and "from checkpoint-8: " in text
    assert "q8_0 gguf: checked in llama.cpp, largest logit difference" in text, text
    assert "greedy tokens agree at" in text and "llama.cpp tokenizes the check texts as we do" in text
    assert info["max_abs_diff"] <= project.exports()[-1]["detail"]["allowed"]
    llm = Llama(model_path=str(gguf), n_ctx=64, verbose=False)
    assert llm.n_vocab() > 0 and len(llm.tokenize(b"Q1:")) > 0
    del llm

    # an Ollama folder: model.gguf + Modelfile, and the command to run since ollama is not on PATH
    folder = tmp_path / "ollama"
    info, said = export("ollama", folder, "f16", name="zebra")
    assert "✓ Verified" in info["text"] and "f16 gguf: checked in llama.cpp" in info["text"]
    assert sorted(x.name for x in folder.iterdir()) == ["Modelfile", "model.gguf"]
    assert (folder / "Modelfile").read_text().startswith("FROM ./model.gguf\n")
    assert f"To add it to Ollama: ollama create zebra -f {folder / 'Modelfile'}" in info["text"], info["text"]
    llm = Llama(model_path=str(folder / "model.gguf"), n_ctx=64, verbose=False)
    assert llm.n_vocab() > 0
    del llm

    # with ollama on PATH (a stand-in that records its arguments) the dialog runs `ollama create` and shows its output
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "ollama").write_text(f"#!/bin/sh\necho \"$@\" > {tmp_path / 'ollama-args'}\necho created zebra-tiny\n")
    (bindir / "ollama").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    info, _ = export("ollama", tmp_path / "ollama-2", "f16", name="zebra-tiny")
    assert (tmp_path / "ollama-args").read_text().split() == ["create", "zebra-tiny", "-f", "Modelfile"]
    assert "created zebra-tiny" in info["text"] and "Created the Ollama model zebra-tiny: ollama run zebra-tiny" in info["text"]
    assert "To add it to Ollama" not in info["text"]

    exports = project.exports()[-3:]
    assert [(e["kind"], e["verified"], e["detail"]["checkpoint_step"]) for e in exports] == [
        ("gguf", True, 8), ("ollama", True, 8), ("ollama", True, 8)]
    assert exports[1]["detail"]["checks"][0]["checked_by"] == "llama.cpp"
    lines = [tc.runs.exports.item(i).text() for i in range(tc.runs.exports.count())][-3:]
    assert "checkpoint-8 · gguf · " in lines[0] and "checkpoint-8 · ollama · " in lines[1], lines


def test_best_needs_an_evaluated_checkpoint_and_the_wheel_needs_focus(make_window, qtbot, tmp_path):
    from studio.widgets.export_dialog import ExportDialog

    window = make_window("tiny-llama")
    project = window.project
    run_id = project.create_run()
    project.claim_run(run_id)
    folder = tmp_path / "checkpoint-3"
    folder.mkdir()
    project.record(run_id, [p.Started(run_id, 3), p.Step(3, 0.1, 2.0, 1e-3), p.Checkpoint(3, str(folder)),
                            p.Finished("completed", step=3)])
    dialog = ExportDialog(project, run_id, window)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.checkpoint.itemText(0) == "Final weights — step 3"
    best = dialog.checkpoint.model().item(1)
    assert not best.isEnabled() and "No checkpoint of this run was evaluated" in best.toolTip()
    assert dialog.best_by.count() == 0 and not dialog.best_by.isEnabled()
    assert dialog.choice() == (folder, {"checkpoint_step": 3, "chosen": "last"})
    # the wheel over an unfocused choice leaves it alone; once focused it changes it as usual
    for combo in (dialog.gguf_type, dialog.checkpoint):
        dialog.folder.setFocus()
        qtbot.waitUntil(dialog.folder.hasFocus)
        before = combo.currentIndex()
        _wheel(combo, -120)
        assert combo.currentIndex() == before
        combo.setFocus()
        qtbot.waitUntil(combo.hasFocus)
        _wheel(combo, -120)
        assert combo.currentIndex() != before, combo
