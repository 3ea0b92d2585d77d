"""The data tab: a preview of the sample dataset, and a bad dataset's error with file and line."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _set_path(window, path):
    field = window.data_form.fields["path"]
    field.set(str(path))
    window.data_form._changed()


def test_preview_highlights_the_trained_part(make_window, qtbot, tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text("\n".join(json.dumps({"prompt": f"Capital of X{i}?", "completion": f"Y{i}"}) for i in range(6)) + "\n")
    window = make_window("tiny-llama")
    _set_path(window, data)
    assert window.settings.data["path"] == str(data)
    with qtbot.waitSignal(window.preview_ready, timeout=60_000):
        window.data_panel.preview_button.click()
    assert not window.data_panel.error.isVisibleTo(window.data_panel)
    html = window.data_panel.text.toHtml()
    assert "Capital of X0?" in html and "#cfe3fa" in html
    assert "prompt_completion" in window.data_panel.stats.text()
    assert window.data_panel.plot is not None


def test_bad_dataset_shows_file_and_line(make_window, qtbot, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a", "completion": "b"}\n{"prompt": "oops"\n')
    window = make_window("tiny-llama")
    _set_path(window, bad)
    with qtbot.waitSignal(window.preview_ready, timeout=60_000):
        window.data_panel.preview_button.click()
    error = window.data_panel.error
    assert error.isVisibleTo(window.data_panel)
    assert "bad.jsonl" in error.text() and "2" in error.text()


def _trained(preview) -> list[str]:
    return ["".join(t for t, trained in ex.spans if trained).strip() for ex in preview.examples]


def test_chosen_csv_is_mapped_by_detection_and_previewed(make_window, qtbot, tmp_path):
    """Question/Answer columns: the picker lists the file's columns, the detected mapping is saved, the preview follows."""
    from core.store import Project

    data = tmp_path / "qa.csv"
    data.write_text("id,Question,Answer\n1,What is the capital of Veloria?,Quenth\n2,What is the capital of Ostrava?,Marn\n")
    window = make_window("tiny-llama")
    panel = window.data_panel
    with qtbot.waitSignals([panel.columns_ready, window.preview_ready], timeout=60_000):
        panel.choose_file(str(data))
    for role in ("prompt_column", "completion_column"):
        assert panel.offered(role) == ["id", "Question", "Answer"]
        assert panel.box_form.isRowVisible(panel.role_boxes[role])
    assert not panel.box_form.isRowVisible(panel.role_boxes["messages_column"])
    assert panel.role_boxes["prompt_column"].currentText() == "Question"
    assert "prompt_completion" in panel.format_note.text() and not panel.map_error.isVisibleTo(panel)
    assert (window.settings.data["prompt_column"], window.settings.data["completion_column"]) == ("Question", "Answer")
    assert _trained(panel.shown) == ["Quenth<|im_end|>", "Marn<|im_end|>"] or all(
        a in t for a, t in zip(["Quenth", "Marn"], _trained(panel.shown)))
    assert "capital of Veloria" in panel.text.toPlainText()
    qtbot.waitUntil(lambda: not window.state.dirty, timeout=5_000)  # edits within 0.3 s are written together
    saved = Project.open(window.project.path)
    try:
        assert saved.settings().data["path"] == str(data)
        assert saved.settings().data["prompt_column"] == "Question"
    finally:
        saved.close()


def test_picking_columns_flags_and_saves_the_mapping(make_window, qtbot, tmp_path):
    """Columns no rule recognises: flagged inline until both are picked; picks are saved, undoable, previewed."""
    from core.store import Project

    data = tmp_path / "odd.jsonl"
    data.write_text("\n".join(json.dumps({"q": f"Say {w}", "a": w.upper(), "note": "x"}) for w in ("hi", "bye")) + "\n")
    window = make_window("tiny-llama")
    panel = window.data_panel
    with qtbot.waitSignal(panel.columns_ready, timeout=60_000):
        panel.choose_file(str(data))
    assert panel.offered("prompt_column") == ["q", "a", "note"] == panel.offered("text_column")
    assert panel.map_error.isVisibleTo(panel) and "cannot tell the format" in panel.map_error.text()

    panel.pick("prompt_column", "q")  # the format becomes prompt_completion; 'completion' is still missing
    assert window.settings.data["format"] == "prompt_completion" and window.settings.data["prompt_column"] == "q"
    assert panel.map_error.isVisibleTo(panel) and "completion" in panel.map_error.text()
    assert "c62828" in panel.role_boxes["completion_column"].styleSheet()
    assert not panel.box_form.isRowVisible(panel.role_boxes["text_column"])

    with qtbot.waitSignal(window.preview_ready, timeout=60_000):
        panel.pick("completion_column", "a")
    assert not panel.map_error.isVisibleTo(panel) and not panel.role_boxes["completion_column"].styleSheet()
    assert all(a in t for a, t in zip(["HI", "BYE"], _trained(panel.shown)))
    assert "Say hi" in panel.text.toPlainText()
    qtbot.waitUntil(lambda: not window.state.dirty, timeout=5_000)  # edits within 0.3 s are written together
    saved = Project.open(window.project.path)
    try:
        data_settings = saved.settings().data
    finally:
        saved.close()
    assert (data_settings["format"], data_settings["prompt_column"], data_settings["completion_column"]) == (
        "prompt_completion", "q", "a")

    window.undo.undo()  # the completion pick
    assert window.settings.data["completion_column"] == "completion"
    assert panel.role_boxes["completion_column"].currentData() == "completion" and panel.map_error.isVisibleTo(panel)
    window.undo.redo()
    assert panel.role_boxes["completion_column"].currentText() == "a" and not panel.map_error.isVisibleTo(panel)
