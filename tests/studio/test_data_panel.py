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
