"""The window on real widgets (offscreen): projects, the tree, targets, methods, the live cost, undo."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.studio.conftest import engine_count, wait_cost

CHECKED, PARTIAL, UNCHECKED = Qt.CheckState.Checked, Qt.CheckState.PartiallyChecked, Qt.CheckState.Unchecked


def state(window, path):
    return window.tree.row(path).checkState(0)


def test_new_project_opens_with_the_defaults(make_window, tmp_path):
    window = make_window()
    from core.store import Project

    assert (tmp_path / "p.adapterstudio").is_file()
    tree = window.tree
    assert tree.info.ref == "smollm2-135m-instruct"
    # LoRA r=16 on all linear layers (core.defaults, what `new` uses): every projection ticked
    for name in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                 "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"):
        assert state(window, f"model.layers.0.{name}") == CHECKED, name
    assert state(window, "model.layers.0.self_attn") == CHECKED
    assert tree.targets_edit.text() == "all-linear"
    # the cost, as PEFT's print_trainable_parameters() prints it: 30 layers x 16 x (in + out) summed
    # over the 7 projections = 4,884,480 on SmolLM2-135M's 134,515,008 parameters
    assert window.cost.line.text() == "trainable params: 4,884,480 || all params: 139,399,488 || trainable%: 3.5039"
    # the full LoRA config was written back into the project file
    with Project.open(tmp_path / "p.adapterstudio") as project:
        saved = project.settings().method_config
    assert saved["peft_type"] == "LORA" and saved["target_modules"] == "all-linear" and saved["r"] == 16


def test_folded_blocks_and_disabled_rows(make_window):
    window = make_window("bloomz-560m")
    tree = window.tree
    h = tree.row("transformer.h")
    assert h.text(0) == "h (0-23): 24 x BloomBlock"
    assert h.toolTip(3).replace(",", "").split()[0].isdigit()
    norm = tree.row("transformer.h.0.input_layernorm")
    assert not norm.flags() & Qt.ItemFlag.ItemIsEnabled
    assert "LoRA adapts Linear" in norm.toolTip(0)


def test_ticking_bloomz_matches_the_engine(make_window, qtbot):
    window = make_window("bloomz-560m", settings={"method_config": {"peft_type": "LORA", "r": 8, "target_modules": ["dense"]}})
    tree = window.tree
    assert state(window, "transformer.h.0.self_attention.dense") == CHECKED
    tree.toggle("transformer.h.0.self_attention.dense")  # untick
    tree.toggle("transformer.h.0.self_attention.query_key_value")  # tick: all 24 blocks
    assert window.targets == ["query_key_value"]
    assert tree.offer.isVisibleTo(tree) and "24 blocks" in tree.offer_label.text()
    wait_cost(qtbot, window)
    assert window.cost.line.text() == "trainable params: 786,432 || all params: 560,001,024 || trainable%: 0.1404"
    assert window.settings.method_config["target_modules"] == ["query_key_value"]
    got = (window.cost.result["trainable"], window.cost.result["total"])
    assert got == engine_count("bloomz-560m", window.settings.method_config)


def test_memory_estimate_is_traced_and_shown_by_part(make_window, qtbot):
    """The cost panel shows core.estimate.cost's parts (activations traced through the adapted model)."""
    from core import estimate
    from core.methods import lora
    from core.models import skeleton

    window = make_window("tiny-llama")
    mem = window.cost.result["memory"]
    inputs = window.cost.memory_inputs()
    assert mem == estimate.cost(skeleton("tiny-llama"), lora, window.method_form.current_config(), **inputs)["memory"]
    assert all(window.cost.bar.parts[k] == mem[k] for k in estimate.PARTS)
    assert "workspace" in window.cost.legend.text() and "workspace" in window.cost.bar.toolTip()
    window.cost.batch.setValue(inputs["batch_size"] * 2)
    wait_cost(qtbot, window)
    doubled = window.cost.result["memory"]
    assert doubled["activations"] > 1.9 * mem["activations"]
    # The Training tab's gradient checkpointing and device reach the estimate too.
    window.training_form.fields["gradient_checkpointing"].set(True)
    window.training_form._changed()
    wait_cost(qtbot, window)
    assert window.cost.result["memory"]["activations"] < 0.8 * doubled["activations"]
    window.training_form.fields["device"].set("cpu")
    window.training_form._changed()
    wait_cost(qtbot, window)
    assert window.settings.training["device"] == "cpu"
    # two edits within studio.project_state.SAVE_DELAY_S: the second reaches the file when the save timer fires
    qtbot.waitUntil(lambda: window.project.settings().training["device"] == "cpu", timeout=5000)
    assert window.cost.result["memory"] == estimate.cost(
        skeleton("tiny-llama"), lora, window.method_form.current_config(), **window.cost.memory_inputs(),
        gradient_checkpointing=True, device="cpu")["memory"]


def test_only_this_block_and_layer_range(make_window, qtbot):
    window = make_window("tiny-bloom", settings={"method_config": {"peft_type": "LORA", "target_modules": ["query_key_value"]}})
    tree = window.tree
    tree.toggle("transformer.h.0.mlp.dense_4h_to_h")
    assert window.targets == ["dense_4h_to_h", "query_key_value"]
    tree.offer_block.setValue(1)
    tree.offer_only.click()
    assert window.targets == ["query_key_value", "transformer.h.1.mlp.dense_4h_to_h"]
    assert state(window, "transformer.h.0.mlp.dense_4h_to_h") == PARTIAL
    # layer range -> layers_to_transform
    tree.layers_all.setChecked(False)
    tree.layer_from.setValue(1)
    assert window.layers == [1]
    assert state(window, "transformer.h.0.self_attention.query_key_value") == PARTIAL
    wait_cost(qtbot, window)
    cfg = window.settings.method_config
    assert cfg["layers_to_transform"] == [1]
    assert (window.cost.result["trainable"], window.cost.result["total"]) == engine_count("tiny-bloom", cfg)


def test_unticking_a_parent_unticks_its_children(make_window):
    window = make_window("tiny-llama", settings={"method_config": {"peft_type": "LORA", "target_modules": ["q_proj", "v_proj", "up_proj"]}})
    window.tree.toggle("model.layers.0.self_attn")
    assert window.targets == ["up_proj"]
    assert state(window, "model.layers.0.self_attn.q_proj") == UNCHECKED
    window.tree.toggle("model.layers.0.self_attn")  # ticking a parent ticks what it can
    assert set(window.targets) == {"self_attn.k_proj", "self_attn.o_proj", "self_attn.q_proj", "self_attn.v_proj", "up_proj"} or set(window.targets) == {"k_proj", "o_proj", "q_proj", "v_proj", "up_proj"}


def test_typed_regex_and_names_tick_rows_and_flag_misses(make_window, qtbot):
    window = make_window("tiny-bloom")
    tree = window.tree
    tree.targets_edit.setText(r"transformer\.h\.0\..*(query_key_value|dense_h_to_4h)")
    tree.targets_edit.editingFinished.emit()
    assert isinstance(window.targets, str)
    assert state(window, "transformer.h.0.self_attention.query_key_value") == PARTIAL  # block 0 of 2
    assert state(window, "transformer.h.0.mlp.dense_h_to_4h") == PARTIAL
    assert state(window, "transformer.h.0.self_attention.dense") == UNCHECKED
    assert tree.selected() == {"transformer.h.0.self_attention.query_key_value", "transformer.h.0.mlp.dense_h_to_4h"}
    wait_cost(qtbot, window)
    assert (window.cost.result["trainable"], window.cost.result["total"]) == engine_count("tiny-bloom", window.settings.method_config)
    tree.targets_edit.setText("query_key_value, quert_key_value")
    tree.targets_edit.editingFinished.emit()
    assert window.targets == ["query_key_value", "quert_key_value"]
    assert "'quert_key_value' matches no module" in tree.flags.text() and "query_key_value" in tree.flags.text()
    assert state(window, "transformer.h.0.self_attention.query_key_value") == CHECKED


def test_undo_redo_targets(make_window):
    window = make_window("tiny-llama")
    assert window.targets == ["q_proj", "v_proj"]
    window.tree.toggle("model.layers.0.self_attn.k_proj")
    assert window.targets == ["k_proj", "q_proj", "v_proj"]
    window.act_undo.trigger()
    assert window.targets == ["q_proj", "v_proj"]
    assert state(window, "model.layers.0.self_attn.k_proj") == UNCHECKED
    assert window.settings.method_config["target_modules"] == ["q_proj", "v_proj"]
    window.act_redo.trigger()
    assert window.targets == ["k_proj", "q_proj", "v_proj"]


def test_switching_methods_builds_the_form(make_window, qtbot):
    window = make_window("tiny-llama")
    form = window.method_form
    names = [form.picker.itemData(i) for i in range(form.picker.count())]
    assert {"LORA", "IA3", "ADALORA", "PROMPT_TUNING"} <= set(names)
    assert form.form.fields["r"].widget.value() == 8
    assert "Rank" in form.form.fields["r"].widget.toolTip()
    assert form.form.fields["use_dora"].kind == "bool"
    assert form.form.fields["bias"].kind == "choice"
    form.form.fields["r"].widget.setValue(4)
    wait_cost(qtbot, window)
    assert window.settings.method_config["r"] == 4
    assert (window.cost.result["trainable"], window.cost.result["total"]) == engine_count("tiny-llama", window.settings.method_config)

    form.picker.setCurrentIndex(names.index("IA3"))
    assert form.method == "IA3" and "feedforward_modules" in form.form.fields
    assert window.tree.targets_edit.isEnabled()
    form.picker.setCurrentIndex(names.index("PROMPT_TUNING"))
    assert "num_virtual_tokens" in form.form.fields
    assert not window.tree.targets_edit.isEnabled()
    assert "virtual tokens" in window.tree.flags.text()
    assert not window.tree.row("model.layers.0.self_attn.q_proj").flags() & Qt.ItemFlag.ItemIsUserCheckable
    form.picker.setCurrentIndex(names.index("LORA"))
    assert form.form.fields["r"].widget.value() == 4  # carried over
    assert state(window, "model.layers.0.self_attn.q_proj") == CHECKED


def test_invalid_value_is_flagged_inline(make_window, qtbot):
    window = make_window("tiny-llama")
    field = window.method_form.form.fields["lora_dropout"]
    before = window.settings.method_config["lora_dropout"]
    field.widget.setText("1.5")
    field.widget.editingFinished.emit()
    assert "lora_dropout" in window.method_form.form.error
    assert "c62828" in field.widget.styleSheet()
    assert window.cost.error.isVisibleTo(window.cost)
    assert window.settings.method_config["lora_dropout"] == before  # the bad value was not saved
    field.widget.setText("0.1")
    field.widget.editingFinished.emit()
    assert not window.method_form.form.error and window.settings.method_config["lora_dropout"] == 0.1


def test_filter_box(make_window):
    window = make_window("tiny-llama")
    window.tree.filter.setText("q_proj|down")
    window.tree.apply_filter()
    visible = set(window.tree.visible_paths())
    assert "model.layers.0.self_attn.q_proj" in visible and "model.layers.0.mlp.down_proj" in visible
    assert "model.layers.0.self_attn.k_proj" not in visible and "model.embed_tokens" not in visible


def test_settings_persist_and_recent_and_geometry(make_window, qsettings, tmp_path):
    window = make_window("tiny-gpt2")
    window.tree.toggle("transformer.h.0.attn.c_attn")
    window.resize(1111, 700)
    window.close()
    from core.store import Project

    with Project.open(tmp_path / "p.adapterstudio") as project:
        assert project.settings().method_config["target_modules"] == ["c_attn"] or "c_attn" in project.settings().method_config["target_modules"]
    assert str(tmp_path / "p.adapterstudio") in qsettings.value("recent")
    assert qsettings.value("geometry") is not None


def test_save_as_continues_in_the_new_file(make_window, tmp_path):
    window = make_window("tiny-llama")
    assert window.save_as(str(tmp_path / "copy.adapterstudio"))
    assert window.project.path == tmp_path / "copy.adapterstudio"
    assert window.settings.model == "tiny-llama"


def test_prompt_methods_get_working_first_values_and_adaption_prompt_lights_layers(make_window, qtbot):
    window = make_window("tiny-llama")
    form = window.method_form
    names = [form.picker.itemData(i) for i in range(form.picker.count())]
    form.picker.setCurrentIndex(names.index("PROMPT_TUNING"))
    assert not form.form.error, form.form.error
    wait_cost(qtbot, window)
    assert window.settings.method_config["peft_type"] == "PROMPT_TUNING"
    assert (window.cost.result["trainable"], window.cost.result["total"]) == engine_count("tiny-llama", window.settings.method_config)
    # the config accepts an empty length (as PEFT); the form refuses it at once, as get_peft_model would
    field = form.form.fields["num_virtual_tokens"]
    field.widget.setText("")
    field.widget.editingFinished.emit()
    assert "num_virtual_tokens is required" in form.form.error
    assert window.settings.method_config["num_virtual_tokens"] == 20  # the empty value was not saved
    field.widget.setText("20")
    field.widget.editingFinished.emit()
    assert not form.form.error, form.form.error
    if "ADAPTION_PROMPT" in names:
        form.picker.setCurrentIndex(names.index("ADAPTION_PROMPT"))
        field = form.form.fields["adapter_layers"]
        field.widget.setText("1")
        field.widget.editingFinished.emit()
        assert window.tree.highlight == {"model.layers.1.self_attn"}
        assert "adaption prompt" in window.tree.row("model.layers.0.self_attn").toolTip(0)


def test_training_form_and_switching_models(make_window, qtbot):
    window = make_window("tiny-llama")
    fields = window.training_form.fields
    assert {"max_steps", "batch_size", "learning_rate", "lr_scheduler", "warmup_steps", "seed"} <= set(fields)
    fields["batch_size"].widget.setValue(2)
    assert window.settings.training["batch_size"] == 2
    assert window.cost.batch.value() == 2
    fields["learning_rate"].widget.setText("-1")
    fields["learning_rate"].widget.editingFinished.emit()
    assert "learning_rate" in window.training_form.error
    with qtbot.waitSignal(window.model_ready, timeout=60_000):
        window.choose_model("tiny-gpt2")
    assert window.settings.model == "tiny-gpt2"
    assert window.tree.info.ref == "tiny-gpt2"
    assert "'q_proj' matches no module" in window.tree.flags.text()
    wait_cost(qtbot, window)
    assert window.cost.error.isVisibleTo(window.cost)
    with qtbot.waitSignal(window.model_ready, timeout=60_000):
        window.choose_model("no-such-model-xyz")
    assert "no-such-model-xyz" in window.tree.status.text()


def test_clicks_and_typing_as_a_person_does(make_window, qtbot):
    window = make_window("tiny-llama")
    tree = window.tree
    item = tree.row("model.layers.0.mlp.gate_proj")
    tree.tree.scrollToItem(item)
    rect = tree.tree.visualItemRect(item)
    # the check box sits left of the text; click its centre (indentation + indicator)
    from PySide6.QtWidgets import QStyle, QStyleOptionViewItem

    option = QStyleOptionViewItem()
    option.initFrom(tree.tree)
    option.rect = rect
    option.features |= QStyleOptionViewItem.ViewItemFeature.HasCheckIndicator
    check = tree.tree.style().subElementRect(QStyle.SubElement.SE_ItemViewItemCheckIndicator, option, tree.tree)
    qtbot.mouseClick(tree.tree.viewport(), Qt.MouseButton.LeftButton, pos=check.center())
    assert "gate_proj" in window.targets
    tree.targets_edit.clear()
    qtbot.keyClicks(tree.targets_edit, "o_proj")
    qtbot.keyClick(tree.targets_edit, Qt.Key.Key_Return)
    assert window.targets == ["o_proj"]
    assert state(window, "model.layers.0.self_attn.o_proj") == CHECKED
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert "gate_proj" in window.targets


def test_undo_covers_setting_changes(make_window, qtbot):
    window = make_window("tiny-llama")
    assert window.undo.count() == 0  # opening a project records nothing
    r = window.method_form.form.fields["r"].widget
    r.setValue(5)
    r.setValue(6)  # merges with the previous edit of r
    assert window.settings.method_config["r"] == 6 and window.undo.count() == 1
    window.training_form.fields["batch_size"].widget.setValue(3)
    window.tree.toggle("model.layers.0.self_attn.k_proj")
    assert window.undo.count() == 3
    window.act_undo.trigger()  # targets
    window.act_undo.trigger()  # batch size
    assert window.settings.training["batch_size"] == 8
    assert window.training_form.fields["batch_size"].widget.value() == 8
    window.act_undo.trigger()  # r
    assert window.settings.method_config["r"] == 8
    assert window.method_form.form.fields["r"].widget.value() == 8
    assert window.settings.method_config["target_modules"] == ["q_proj", "v_proj"]
    names = [window.method_form.picker.itemData(i) for i in range(window.method_form.picker.count())]
    window.method_form.picker.setCurrentIndex(names.index("IA3"))
    assert window.settings.method_config["peft_type"] == "IA3"
    window.act_undo.trigger()
    assert window.settings.method_config["peft_type"] == "LORA" and window.method_form.method == "LORA"
    assert state(window, "model.layers.0.self_attn.q_proj") == CHECKED
    window.act_redo.trigger()
    assert window.settings.method_config["peft_type"] == "IA3"
    wait_cost(qtbot, window)


def test_row_menu_offers_all_blocks_or_one(make_window):
    window = make_window("tiny-bloom", settings={"method_config": {"peft_type": "LORA", "target_modules": ["query_key_value"]}})
    actions = dict(window.tree.context_actions("transformer.h.0.self_attention.dense"))
    assert set(actions) == {"Tick in all 2 blocks", "Tick only in block 0", "Tick only in block 1"}
    actions["Tick only in block 0"]()
    assert window.targets == ["query_key_value", "transformer.h.0.self_attention.dense"]
    actions = dict(window.tree.context_actions("transformer.h.0.self_attention.query_key_value"))
    actions["Untick query_key_value"]()
    assert window.targets == ["transformer.h.0.self_attention.dense"]
    assert window.tree.context_actions("transformer.h.0.input_layernorm") == []


def test_new_and_open_through_the_file_menu(make_window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    window = make_window("tiny-llama")
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "fresh"), ""))
    window.act_new.trigger()
    assert window.project.path == tmp_path / "fresh.adapterstudio"
    assert window.settings.model == "smollm2-135m-instruct"
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(tmp_path / "p.adapterstudio"), ""))
    window.act_open.trigger()
    assert window.project.path == tmp_path / "p.adapterstudio" and window.settings.model == "tiny-llama"
    assert window.recent()[:2] == [str(tmp_path / "p.adapterstudio"), str(tmp_path / "fresh.adapterstudio")]
    window.act_save.trigger()
    assert "saves itself" in window.statusBar().currentMessage()
    (tmp_path / "junk.adapterstudio").write_text("not a project")
    from PySide6.QtWidgets import QMessageBox

    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: shown.append(a[2]))
    assert not window.open_project(tmp_path / "junk.adapterstudio")
    assert "not an Adapter Studio project" in shown[0]
    assert window.project.path == tmp_path / "p.adapterstudio"


def test_first_launch_creates_the_default_project(qtbot, tmp_path, qsettings, monkeypatch):
    import studio.main_window as mw

    target = tmp_path / "data" / "My first project.adapterstudio"
    monkeypatch.setattr(mw, "default_project_path", lambda: target)
    window = mw.MainWindow(None, qsettings=qsettings)
    qtbot.addWidget(window)
    with qtbot.waitSignals([window.model_ready, window.methods_ready], timeout=60_000):
        window.show()
    wait_cost(qtbot, window)
    assert window.project.path == target and target.is_file()
    assert window.settings.model == "smollm2-135m-instruct"
    # The same project `adapter-studio new` makes with the same model and data (one function in core,
    # core.defaults, gives both; LoRA r=16 on all linear layers is what test_learning.py shows teaching).
    import dataclasses

    from core.cli import main as cli
    from core.defaults import sample_dataset
    from core.methods import config_from_dict
    from core.store import Project
    from core.train import TrainingArguments

    dataset = sample_dataset()
    assert dataset is not None and window.settings.data["path"] == str(dataset)
    assert cli(["new", str(tmp_path / "cli"), "--model", "smollm2-135m-instruct", "--dataset", str(dataset)]) == 0
    with Project.open(target) as project:
        studio = project.settings()
    with Project.open(tmp_path / "cli.adapterstudio") as project:
        new = project.settings()
    assert studio.model == new.model and studio.data["path"] == new.data["path"]
    assert config_from_dict(studio.method_config).to_dict() == config_from_dict(new.method_config).to_dict()
    assert new.method_config["target_modules"] == "all-linear" and new.method_config["r"] == 16
    assert dataclasses.asdict(TrainingArguments.from_dict(studio.training)) == new.training
