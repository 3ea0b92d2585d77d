"""The method picker says what each method is for (issue #21), from the measured facts in each method file
(``FACTS.good_for``, ``FACTS.measured``), and warns before training when the picked method measured poorly
on the kind of data the user says they have. Real widgets: the studio's MethodForm over the real registry."""

from __future__ import annotations

import pytest

from core.methods import REGISTRY, catalog
from core.methods.contract import DATA_KINDS
from studio.widgets.method_form import MethodForm


@pytest.fixture
def form(qtbot):
    form = MethodForm()
    qtbot.addWidget(form)
    form.set_registry({ptype.value: module for ptype, module in REGISTRY.items()})
    form.set_config({"peft_type": "LORA", "task_type": "CAUSAL_LM", **catalog.facts("LORA").adapter_defaults})
    form.show()
    return form


def pick(form: MethodForm, method: str) -> None:
    form.picker.setCurrentIndex(form.picker.findData(method))
    assert form.method == method


def test_every_method_declares_what_it_measured_and_beats_the_base_where_recommended():
    # The base model scores 0.00 on both held-out files (docs/method-defaults.md): "good for" a kind means a
    # measured score of at least GOOD_SCORE (derived from FACTS.measured), and every method is recommended for
    # something. What the measurements say today: only the low-rank methods store new facts.
    from core.methods.contract import GOOD_SCORE

    for method in catalog.names():
        facts = catalog.facts(method)
        assert set(facts.measured) >= {*DATA_KINDS, "trainable", "seconds"}, method
        assert facts.good_for == tuple(k for k in DATA_KINDS if facts.measured[k] >= GOOD_SCORE), method
        assert facts.good_for, method
    assert [m for m in catalog.names() if "facts" in catalog.facts(m).good_for] == ["LORA", "ADALORA"]
    assert all("style" in catalog.facts(m).good_for for m in catalog.names())


def test_the_form_says_what_the_method_is_for_and_warns_on_a_poor_fit(form):
    assert form.data_kind() == "facts"  # the form starts at new facts until the user says otherwise
    assert "stores new facts" in form.fit.text() and "Merges" in form.fit.text()
    assert "4.9 M trainable" in form.fit.text()
    assert not form.warning.isVisible()

    pick(form, "PROMPT_TUNING")
    assert "steers style and format" in form.fit.text() and "stores new facts" not in form.fit.text()
    assert "cannot be merged" in form.fit.text()
    assert form.warning.isVisible()
    facts_score = catalog.facts("PROMPT_TUNING").measured["facts"]
    assert f"learned little of new facts (held-out score {facts_score:.2f})" in form.warning.text()
    assert "LoRA" in form.warning.text()  # the methods that measured well on facts are named
    assert "Prompt tuning," not in form.warning.text().split("pick", 1)[1]

    form.set_data_kind("style")  # the user says their data is a style or format: prompt tuning fits
    assert not form.warning.isVisible()
    pick(form, "LORA")
    assert not form.warning.isVisible()


@pytest.mark.parametrize("kind", DATA_KINDS)
def test_the_warning_shows_exactly_for_methods_not_good_for_the_kind(form, kind):
    form.set_data_kind(kind)
    for method in catalog.names():
        pick(form, method)
        poor = kind not in catalog.facts(method).good_for
        assert form.warning.isVisible() == poor, (method, kind, form.warning.text())


def test_the_fit_and_the_warning_read_in_chinese(qapp, qtbot, form):
    from studio.app import install_translator
    from tests.studio.test_help_i18n import english_sentence

    translator = install_translator(qapp, "zh_CN")
    assert translator is not None
    try:
        pick(form, "PROMPT_TUNING")  # texts are made when a method is picked, in the language installed then
        for label in (form.fit, form.warning):
            assert "\u4e00" <= max(label.text()) and english_sentence(label.text()) is None, label.text()
        fresh = MethodForm()  # the data-kind choices are made with the form
        qtbot.addWidget(fresh)
        assert fresh.kind.itemText(fresh.kind.findData("style")) == "回答的风格或格式"
    finally:
        qapp.removeTranslator(translator)


def test_adaption_prompts_first_value_fits_the_models_blocks(make_window):
    # The default adapts every block up to 30; tiny-llama has 2, so the window's first value is 2 (and valid).
    window = make_window("tiny-llama")
    pick(window.method_form, "ADAPTION_PROMPT")
    assert not window.method_form.form.error, window.method_form.form.error
    assert window.method_form.form.values()["adapter_layers"] == 2
    assert window.settings.method_config["adapter_layers"] == 2


def test_what_the_data_teaches_is_saved_with_the_project_and_undoable(make_window, qtbot, tmp_path, qsettings):
    from core.store import Project
    from tests.studio.conftest import show_window

    window = make_window("tiny-llama")
    form = window.method_form
    pick(form, "PROMPT_TUNING")
    assert form.data_kind() == "facts" and form.warning.isVisible()
    # The user picks "a style or format" (activated: a pick by the user, not set by code).
    index = form.kind.findData("style")
    form.kind.setCurrentIndex(index)
    form.kind.activated.emit(index)
    assert not form.warning.isVisible()
    assert window.settings.data["teaches"] == "style"
    path = window.project.path
    window.flush()  # edits are written together after a short delay; Train and closing flush them
    with Project.open(path) as proj:
        assert proj.settings().data["teaches"] == "style"  # in the project file, not only the window

    window.undo.undo()  # Edit ▸ Undo gives back "new facts", in the form and in the file
    assert form.data_kind() == "facts" and form.warning.isVisible()
    window.flush()
    with Project.open(path) as proj:
        assert proj.settings().data["teaches"] == "facts"
    window.undo.redo()
    window.close()

    again = show_window(qtbot, path, qsettings)  # reopened: the form shows what the file says
    assert again.method_form.data_kind() == "style"
    assert again.method_form.method == "PROMPT_TUNING" and not again.method_form.warning.isVisible()
