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

    # Train refuses what the window shows (the model, the data): its reasons in Chinese too
    tc = window.training
    tc.confirm, tc.gpus = (lambda question, text: "yes"), []
    assert tc.train() is None
    _chinese_error(tc.refusal, "Train's refusal")
    assert "someone/not-in-the-cache" in tc.refusal


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


def _kinds() -> set[str]:
    """Every error kind a message can come with: core.errors' classes and core.protocol.Failed's vocabulary
    ("nan", "oom", "error") and the window's "crashed" for a worker that died without a word."""
    from core import errors

    classes, seen = [errors.PersonError], set()
    while classes:
        cls = classes.pop()
        seen.add(cls.kind)
        classes.extend(cls.__subclasses__())
    return seen | {"nan", "oom", "error", "crashed"}


UNKNOWN = "The frobnicator refused the widget at step 4 because of reasons nobody wrote a pattern for."


@pytest.mark.parametrize("kind", sorted(_kinds()))
def test_an_unmatched_engine_error_of_each_kind_starts_in_chinese(chinese, kind):
    """A message no pattern knows keeps core's words (they name what and where) behind a translated
    headline for its kind; only "error" (anything unexpected) has the general one."""
    from studio.messages import person

    shown = person(UNKNOWN, kind)
    assert shown.endswith(UNKNOWN)
    headline = shown[: -len(UNKNOWN)].strip()
    assert headline and re.search(r"[\u4e00-\u9fff]", headline[0]), shown
    assert english_sentence(headline) is None, headline
    general = person(UNKNOWN, "error")[: -len(UNKNOWN)].strip()
    assert (headline == general) == (kind == "error"), f"{kind} has no headline of its own: {headline}"
    assert person(f"Training failed at step 4: {UNKNOWN}", kind) == f"训练在第 4 步失败：{headline} {UNKNOWN}"
    if kind == "data":  # the prefix says it already: no headline repeating it
        assert person(f"The dataset cannot be used: {UNKNOWN}", kind) == f"无法使用数据集：{UNKNOWN}"


def test_a_worker_failure_reads_in_chinese_and_its_log_stays_english(chinese, training_window, qtbot):
    """A real run whose data file lost its columns after the window read it: the worker fails with core's
    "cannot tell the format from the columns found: …", which no pattern knows. The run view's status and
    advice, the status bar and the runs list's hover read in Chinese (core's words, naming the file, behind a
    Chinese headline); the log pane keeps the worker's English line (the log is a log)."""
    from core.store import Project

    window = training_window(5)
    tc = window.training
    Path(window.settings.data["path"]).write_text('{"foo": "x"}\n{"foo": "y"}\n')
    with qtbot.waitSignal(tc.run_ended, timeout=120_000) as ended:
        run_id = tc.train()
        assert run_id is not None, tc.refusal
    assert ended.args[1] == "failed"
    with Project.open(window.project.path) as project:
        run = project.run(run_id)
    assert run.error_kind == "data" and "cannot tell the format" in run.error, (run.error_kind, run.error)
    english = run.error.split(": ", 1)[1] if run.error.startswith("The dataset cannot be used: ") else run.error
    view = tc.view
    shown = {"the run view's status": view.status.text(), "the status bar": window.statusBar().currentMessage(),
             "the runs list's hover": next(
                 tc.runs.table.topLevelItem(i).toolTip(1) for i in range(tc.runs.table.topLevelItemCount())
                 if tc.runs.table.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole) == run_id)}
    for where, text in shown.items():
        assert english in text, (where, text)  # core's words (the file, the columns) are kept
        plain = re.sub(r"<[^>]+>", " ", text).replace(english, " ")
        _chinese_error(plain, where)
        assert "无法使用数据集" in plain, (where, plain)
    assert "请修正数据集" in view.status.text()  # the advice for a data failure
    assert english in view.log.toPlainText()  # the log keeps the engine's English
