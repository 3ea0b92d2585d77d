"""The module tree on a mixture-of-experts model: an ``experts`` row (fused 3-D weights, no Linear layer)
ticks its weights into LoRA's ``target_parameters`` and unticks them out; a LoRA project that names no
parameters is offered the experts in one click (the default `adapter-studio new` gives such a model)."""

from __future__ import annotations

from PySide6.QtCore import Qt

EXPERTS = "model.layers.0.mlp.experts"
MOE = ["experts.gate_up_proj", "experts.down_proj"]


def _moe_folder(tmp_path):
    """A tiny qwen3_moe as a folder with its config only (the tree is built from the config, on meta)."""
    import transformers as T

    folder = tmp_path / "tiny-qwen3-moe"
    T.Qwen3MoeConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        head_dim=8, moe_intermediate_size=16, num_experts=4, num_experts_per_tok=2, decoder_sparse_step=1,
        vocab_size=300, max_position_embeddings=64,
    ).save_pretrained(folder)
    return str(folder)


def _saved(window):
    return window.settings.method_config.get("target_parameters")


def test_ticking_an_experts_row_adds_its_weights_to_target_parameters(make_window, qtbot, tmp_path):
    window = make_window(model=_moe_folder(tmp_path))
    tree = window.tree
    row = tree.row(EXPERTS)
    assert row.flags() & Qt.ItemFlag.ItemIsUserCheckable and row.flags() & Qt.ItemFlag.ItemIsEnabled
    assert row.checkState(0) == Qt.CheckState.Unchecked and not _saved(window)
    assert "target_parameters" in row.toolTip(0) and "gate_up_proj (4 × 32 × 32)" in row.toolTip(0)
    assert not tree.suggest_experts.isHidden() and "experts.gate_up_proj" in tree.suggest_experts.text()

    tree.toggle(EXPERTS)  # a folded row: every block's experts
    assert sorted(_saved(window)) == sorted(MOE)
    assert tree.row(EXPERTS).checkState(0) == Qt.CheckState.Checked
    assert tree.suggest_experts.isHidden()
    assert sorted(window.method_form.form.fields["target_parameters"].get()) == sorted(MOE)
    assert window.settings.method_config["target_modules"] == ["q_proj", "v_proj"]  # the modules untouched

    tree.toggle(EXPERTS)
    assert not _saved(window) and tree.row(EXPERTS).checkState(0) == Qt.CheckState.Unchecked
    window.undo.undo()  # each click is its own undo step, as a module's tick
    assert sorted(_saved(window)) == sorted(MOE) and tree.row(EXPERTS).checkState(0) == Qt.CheckState.Checked
    window.undo.undo()
    assert not _saved(window) and tree.row(EXPERTS).checkState(0) == Qt.CheckState.Unchecked

    tree.suggest_experts.click()
    assert sorted(_saved(window)) == sorted(MOE)

    # one block only: the other block's weights are listed in full, the tree shows the row partly ticked
    tree.set_parameters(["model.layers.1.mlp.experts.down_proj"])
    assert tree.row(EXPERTS).checkState(0) == Qt.CheckState.PartiallyChecked


def test_a_dense_model_has_no_experts_offer(make_window):
    window = make_window(model="tiny-llama")
    assert window.tree.suggest_experts.isHidden()
    assert not window.tree.expert_keys()
    assert not any("target_parameters" in window.tree.row(path).toolTip(0) for path in window.tree._rows)


def test_the_tree_s_target_parameters_select_what_the_engine_adapts(tmp_path):
    """The entries a tick writes select, in core's own matching (`core.methods._param_lora.select`), exactly
    the expert weights the tree shows ticked: every block (short suffixes) and one block (full keys)."""
    from core.methods._param_lora import select
    from core.models import skeleton
    from studio import targets as T
    from studio.jobs import load_tree

    folder = _moe_folder(tmp_path)
    keys = [f"{m}.{n}" for m, weights in load_tree(folder).experts.items() for n, _ in weights]
    assert len(keys) == 2 * 2  # 2 blocks x (gate_up_proj, down_proj)
    for chosen in (set(keys), {k for k in keys if ".layers.1." in k or k.endswith("down_proj")}):
        entries = T.parameter_entries(chosen, keys)
        engine = {f"{path}.{name}" for path, name in select(skeleton(folder), entries)}
        assert engine == chosen == T.parameters_matched(entries, keys), entries
    assert T.parameter_entries(set(keys), keys) == MOE
