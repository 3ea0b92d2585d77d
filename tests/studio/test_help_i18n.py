"""Help ▸ About and F1 (issue 19), and the engine's error messages in a Chinese window.

F1 opens the docs section of the focused area: `QDesktopServices.openUrl` is replaced by a recorder (no
browser starts); the URL the window computed is checked against the docs file and its heading.
In a window translated to Simplified Chinese, the errors a newcomer meets (a folder without a model, an
uncached hub id, a broken dataset line, a target that matches nothing, an invalid method value, the
tree's "cannot adapt" reasons) must read in Chinese: an English sentence there fails the test."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, Qt, QUrl

from tests.studio.conftest import LOAD_TIMEOUT_MS, wait_cost

ROOT = Path(__file__).resolve().parents[2]


def test_help_menu_and_about(make_window, qtbot):
    window = make_window("tiny-llama")
    titles = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert titles[-1] == "Help", titles
    assert window.act_help.shortcut().toString() == "F1"
    about = window.show_about()
    qtbot.waitUntil(about.isVisible)
    text = about.text.text()
    from importlib.metadata import version

    assert f"Adapter Studio {version('adapter-studio')}" in text
    assert "Apache-2.0" in text
    links = re.findall(r'href="([^"]+)"', text)
    docs = [QUrl(link).toLocalFile() for link in links if link.endswith(".md")]
    assert str(ROOT / "docs" / "studio.md") in docs
    assert all(Path(d).is_file() for d in docs), docs
    about.close()


@pytest.mark.parametrize("area, file, anchor", [
    ("tree", "studio.md", "model-and-tree-studiowidgetsmodule_treepy"),
    ("method", "studio.md", "method-studiowidgetsmethod_formpy-studiowidgetsdataclass_formpy"),
    ("runs", "studio.md", "runs-studiowidgetsruns_listpy"),
    ("training", "training.md", "trainingarguments"),
])
def test_f1_opens_the_docs_section_of_the_focused_area(make_window, qtbot, monkeypatch, area, file, anchor):
    from PySide6.QtGui import QDesktopServices

    opened: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(QUrl(url)) or True)
    window = make_window("tiny-llama")
    window.activateWindow()
    if area == "tree":
        focus = window.tree.filter
    elif area == "method":
        window.tabs.setCurrentIndex(0)
        focus = window.method_form.form.fields["r"].widget
    elif area == "runs":
        focus = window.training.runs.table
    else:
        window.tabs.setCurrentIndex(1)
        focus = window.training_form.fields["max_steps"].widget
    focus.setFocus()
    qtbot.waitUntil(lambda: focus.hasFocus())
    qtbot.keyClick(focus, Qt.Key.Key_F1)
    assert len(opened) == 1, opened
    url = opened[0]
    assert url.isLocalFile() and Path(url.toLocalFile()) == ROOT / "docs" / file
    assert url.fragment() == anchor
    # the anchor is GitHub's for a heading that is really in that file
    headings = [line.lstrip("#").strip() for line in (ROOT / "docs" / file).read_text().splitlines() if line.startswith("#")]
    slugs = {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}
    assert anchor in slugs


# ---- Chinese -------------------------------------------------------------------------------------

_CODE = re.compile(r"'[^']*'|\"[^\"]*\"|`[^`]*`|https?://\S+|\S*[/\\]\S*|\S*[_.\d]\S*|\*\.\w+")


def english_sentence(text: str) -> str | None:
    """The first run of three or more English words in ``text``, ignoring what is code (quoted names,
    paths, identifiers with _ . or digits, URLs); None when there is none."""
    plain = _CODE.sub(" ", text)
    m = re.search(r"\b[A-Za-z]{2,}(?:[ ,;:()-]+[A-Za-z]{2,}){2,}\b", plain)
    return m.group(0) if m else None


def test_english_sentence_checker():
    assert english_sentence("/tmp/x is not a Hugging Face model folder: it has no config.json.")
    assert english_sentence("{0} 不是 Hugging Face 模型文件夹：其中没有 config.json。") is None
    assert english_sentence("target_modules 中的 'q_proj' 不匹配此模型的任何模块。最接近的实际名称：c_proj, drop。") is None


@pytest.fixture
def chinese(qapp):
    from studio.app import install_translator

    translator = install_translator(qapp, "zh_CN")
    assert translator is not None
    yield
    qapp.removeTranslator(translator)


def _chinese_error(text: str, where: str) -> None:
    assert text.strip(), f"{where}: no error shown"
    plain = re.sub(r"<[^>]+>", " ", text)
    assert re.search(r"[\u4e00-\u9fff]", plain), f"{where} is not in Chinese: {plain!r}"
    assert english_sentence(plain) is None, f"{where} shows English: {english_sentence(plain)!r} in {plain!r}"


def test_errors_read_in_chinese_in_a_chinese_window(chinese, make_window, qtbot, tmp_path):
    window = make_window("tiny-llama")
    assert QCoreApplication.translate("Menus", "&File") == "文件(&F)"

    # a target that matches nothing: the tree's flags
    window.tree.targets_edit.setText("q_proj, nonsense_proj")
    window.tree.targets_edit.editingFinished.emit()
    qtbot.waitUntil(lambda: "nonsense_proj" in window.tree.flags.text())
    _chinese_error(window.tree.flags.text(), "the tree's flags")
    window.tree.targets_edit.setText("q_proj, v_proj")
    window.tree.targets_edit.editingFinished.emit()

    # a row the method cannot adapt: its reason on hover (core's can_target sentence)
    norm = next(r for p, r in window.tree._rows.items() if p.endswith("input_layernorm"))
    _chinese_error(norm.item.toolTip(0) or norm.item.toolTip(1), "a grey row's reason")

    # an invalid method value: the form's error line (core's ConfigError)
    window.method_form.form.fields["r"].widget.setValue(0)
    qtbot.waitUntil(lambda: window.method_form.form.error_label.isVisible())
    _chinese_error(window.method_form.form.error_label.text(), "the method form's error")
    window.method_form.form.fields["r"].widget.setValue(4)

    # a dataset with a broken line: the Data tab (core's DataError, with file and line)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prompt": "a", "completion": "b"}) + "\n{broken\n")
    data = dict(window.settings.data, path=str(bad))
    with qtbot.waitSignal(window.preview_ready, timeout=LOAD_TIMEOUT_MS):
        window.apply_section("data", data)
        window.preview_data()
    shown = window.data_panel.error.text() if window.data_panel.error.isVisible() else window.data_panel.map_error.text()
    _chinese_error(shown, "the Data tab's error")
    assert "bad.jsonl" in shown and "2" in shown  # still names the file and the line

    # models that cannot be opened: the tree's status line (core's ModelLoadError)
    empty = tmp_path / "no-model-here"
    empty.mkdir()
    for ref in (str(empty), "someone/not-in-the-cache"):
        with qtbot.waitSignal(window.model_ready, timeout=LOAD_TIMEOUT_MS):
            window.choose_model(ref)
        _chinese_error(window.tree.status.text(), f"the tree's status for {ref}")
        assert ref in window.tree.status.text().replace("\u200b", "")


def test_english_window_shows_the_engine_message_unchanged(make_window, qtbot, tmp_path):
    """Without a translator the messages are exactly core's (nothing is lost in English)."""
    from core.errors import ModelLoadError  # noqa: F401 - the class whose message is shown
    from studio.messages import person

    message = "target_modules entry 'x' matches no module of this model. Closest real names: c_proj, drop."
    assert person(message, "config") == message
    window = make_window("tiny-llama")
    empty = tmp_path / "empty"
    empty.mkdir()
    with qtbot.waitSignal(window.model_ready, timeout=LOAD_TIMEOUT_MS):
        window.choose_model(str(empty))
    assert "is not a Hugging Face model folder" in window.tree.status.text().replace("\u200b", "")
    wait_cost(qtbot, window)


def test_every_field_help_is_translatable():
    """The forms' tooltips come from core's dataclass fields: each help text is listed in studio/field_help.py."""
    import dataclasses

    from core.data import DataConfig
    from core.methods import REGISTRY
    from core.train import TrainingArguments
    from studio.field_help import TEXTS

    classes = [m.Config for m in REGISTRY.values()] + [TrainingArguments, DataConfig]
    helps = {f.metadata["help"] for c in classes for f in dataclasses.fields(c) if f.metadata.get("help")}
    assert helps - set(TEXTS) == set(), "add these to studio/field_help.py (and translate them)"


def test_tooltips_and_parameters_read_in_chinese(chinese, make_window):
    window = make_window("tiny-llama")
    for form, name in ((window.method_form.form, "r"), (window.training_form, "learning_rate"), (window.data_form, "max_length")):
        tip = form.fields[name].widget.toolTip()
        _chinese_error(tip, f"the tooltip of {name}")
    assert "parameters" not in window.tree.status.text() and "参数" in window.tree.status.text()
