"""LoRA's ``trainable_token_indices`` (core/methods/_trainable_tokens.py): only the listed rows of an embedding
train, saved as ``<path>.token_adapter.trainable_tokens_delta`` (n, dim). Checked against peft 0.21.2 (the
test-only oracle): key names and shapes, logits, files both ways (ours in peft, peft's in ours), a tied output
head that follows the input embedding, merge / unmerge / unload, disable_adapter, two adapters."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import core
from core.config import ConfigError
from tests.core.conftest import logits, make_model

peft = pytest.importorskip("peft")

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")

ROWS = [0, 5, 17]


def _perturb_rows(model: nn.Module, adapter: str = "default", seed: int = 3) -> None:
    """'Train' the rows: give each adapter's rows (and LoRA tensors) random values, same for any engine."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if name.endswith(f"trainable_tokens_delta.{adapter}") or ("lora_" in name and f".{adapter}." in name):
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)


class EmbNet(nn.Module):
    """ids (B, T) -> emb (100 -> 6) -> lin (6 -> 4): a custom model without get_input_embeddings."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(100, 6)
        self.lin = nn.Linear(6, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(self.emb(x))


def _ids() -> torch.Tensor:
    return torch.tensor([[0, 1, 5, 17, 40], [17, 17, 3, 0, 99]])  # (2, 5): listed and unlisted tokens


def test_custom_model_matches_peft_both_ways(tmp_path):
    torch.manual_seed(0)
    base = EmbNet().eval()
    x = _ids()
    config = dict(target_modules=["lin"], trainable_token_indices={"emb": ROWS})
    ours = core.get_peft_model(copy.deepcopy(base), core.LoraConfig(**config)).eval()
    theirs = peft.get_peft_model(copy.deepcopy(base), peft.LoraConfig(**config)).eval()
    # same in-memory names (PEFT's code and tests reach into them) and the same trainable tensors
    trainable = {n: tuple(p.shape) for n, p in ours.named_parameters() if p.requires_grad}
    assert trainable == {n: tuple(p.shape) for n, p in theirs.named_parameters() if p.requires_grad}
    assert trainable["base_model.model.emb.token_adapter.trainable_tokens_delta.default"] == (3, 6)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), base(x))  # the rows start as the embedding's: no change yet
    _perturb_rows(ours, seed=1)
    _perturb_rows(theirs, seed=2)
    ours.save_pretrained(tmp_path / "ours")
    theirs.save_pretrained(tmp_path / "peft")
    from safetensors.torch import load_file

    keys = set(load_file(tmp_path / "ours" / "adapter_model.safetensors"))
    assert keys == set(load_file(tmp_path / "peft" / "adapter_model.safetensors"))
    assert "base_model.model.emb.token_adapter.trainable_tokens_delta" in keys
    with torch.no_grad():
        y_ours, y_theirs = ours(x), theirs(x)
        assert not torch.allclose(y_ours, base(x))
        in_peft = peft.PeftModel.from_pretrained(copy.deepcopy(base), tmp_path / "ours").eval()
        torch.testing.assert_close(in_peft(x), y_ours, atol=1e-5, rtol=0)
        in_ours = core.PeftModel.from_pretrained(copy.deepcopy(base), tmp_path / "peft").eval()
        torch.testing.assert_close(in_ours(x), y_theirs, atol=1e-5, rtol=0)
        # only the listed rows differ from the base embedding: unlisted tokens give the base output
        unlisted = torch.tensor([[1, 3, 40, 99]])
        torch.testing.assert_close(in_ours(unlisted), _lora_only(in_ours, unlisted), atol=1e-6, rtol=0)


def _lora_only(model, ids):
    """The adapted model's output with the original embedding rows (the LoRA update still applied)."""
    wrapper = model.base_model.model.emb
    return model.base_model.model.lin(wrapper.token_adapter.base_layer(ids))


def test_gradient_reaches_only_the_rows_and_merge_unmerge_restore():
    torch.manual_seed(0)
    base = EmbNet()
    model = core.get_peft_model(copy.deepcopy(base), core.LoraConfig(target_modules=["lin"], trainable_token_indices={"emb": ROWS}))
    model(_ids()).sum().backward()
    wrapper = model.base_model.model.emb
    delta = wrapper.token_adapter.trainable_tokens_delta["default"]
    assert delta.grad is not None and delta.grad.abs().sum() > 0
    assert wrapper.token_adapter.base_layer.weight.grad is None  # the table itself is frozen
    _perturb_rows(model)
    model.eval()
    x = _ids()
    with torch.no_grad():
        adapted = model(x)
        model.merge_adapter()
        torch.testing.assert_close(model(x), adapted, atol=1e-6, rtol=0)
        weight = wrapper.token_adapter.base_layer.weight
        torch.testing.assert_close(weight[ROWS], delta)
        model.unmerge_adapter()
        torch.testing.assert_close(weight, base.emb.weight)
        with model.disable_adapter():
            torch.testing.assert_close(model.base_model.model.emb(x), base.emb(x))
            assert not delta.requires_grad  # nothing to train while the adapter is off (as PEFT)
        assert delta.requires_grad
        merged = model.merge_and_unload()
        assert isinstance(merged.emb, nn.Embedding)
        torch.testing.assert_close(merged(x), adapted, atol=1e-6, rtol=0)


def test_tied_head_follows_the_input_embedding_as_in_peft(tmp_path, input_ids):
    """A tied lm_head reads the same trained rows (logits of a new token use its new row); saved once."""
    base = make_model("llama", tied=True)
    config = dict(target_modules=["q_proj"], trainable_token_indices=ROWS)
    ours = core.get_peft_model(copy.deepcopy(base), core.LoraConfig(**config))
    theirs = peft.get_peft_model(copy.deepcopy(base), peft.LoraConfig(**config))
    inner = ours.base_model.model
    assert inner.lm_head.token_adapter.trainable_tokens_delta is inner.model.embed_tokens.token_adapter.trainable_tokens_delta
    assert ours.get_nb_trainable_parameters() == theirs.get_nb_trainable_parameters()
    _perturb_rows(ours, seed=1)
    _perturb_rows(theirs, seed=1)
    ours.eval(), theirs.eval()
    y_ours = logits(ours, input_ids)
    torch.testing.assert_close(y_ours, logits(theirs, input_ids), atol=1e-5, rtol=0)
    ours.save_pretrained(tmp_path / "ours")
    from safetensors.torch import load_file

    assert [k for k in load_file(tmp_path / "ours" / "adapter_model.safetensors") if "token" in k] == [
        "base_model.model.model.embed_tokens.token_adapter.trainable_tokens_delta"]
    in_peft = peft.PeftModel.from_pretrained(copy.deepcopy(base), tmp_path / "ours").eval()
    torch.testing.assert_close(logits(in_peft, input_ids), y_ours, atol=1e-5, rtol=0)
    # merged: both modules share one weight, which now holds the trained rows (the head's logits keep using them)
    merged = ours.merge_and_unload()
    assert merged.lm_head.weight is merged.model.embed_tokens.weight
    torch.testing.assert_close(logits(merged, input_ids), y_ours, atol=1e-5, rtol=0)


def test_two_adapters_one_active_per_embedding_and_delete():
    torch.manual_seed(0)
    model = core.get_peft_model(EmbNet(), core.LoraConfig(target_modules=["lin"], trainable_token_indices={"emb": [0, 1]}))
    model.add_adapter("other", core.LoraConfig(target_modules=["lin"], trainable_token_indices={"emb": [1, 2]}))
    wrapper = model.base_model.model.emb
    assert wrapper.active_adapters == ["default"]
    model.set_adapter("other")
    deltas = wrapper.token_adapter.trainable_tokens_delta
    assert deltas["other"].requires_grad and not deltas["default"].requires_grad
    with pytest.raises(ValueError, match="Only one adapter can be set at a time for TrainableTokensWrapper"):
        model.set_adapter(["default", "other"])
    _perturb_rows(model, "default", seed=1)
    _perturb_rows(model, "other", seed=2)
    with pytest.raises(ValueError, match="both replace row 1"):
        model.merge_adapter(["default", "other"])
    model.delete_adapter("default")
    assert set(deltas) == {"other"} and set(wrapper.token_adapter.trainable_tokens_original) == {"other"}
    model.delete_adapter("other")
    assert isinstance(model.base_model.model.emb, nn.Embedding)  # the last adapter gone: the plain embedding is back


def test_config_errors_say_what_is_wrong():
    with pytest.raises(ConfigError, match="twice"):
        core.LoraConfig(target_modules=["lin"], trainable_token_indices=[1, 1])
    with pytest.raises(ConfigError, match="token ids"):
        core.LoraConfig(target_modules=["lin"], trainable_token_indices="emb")
    with pytest.raises(ConfigError, match="outside 'emb', which has 100 rows"):
        core.get_peft_model(EmbNet(), core.LoraConfig(target_modules=["lin"], trainable_token_indices={"emb": [100]}))
    with pytest.raises(ValueError, match="matches no module"):
        core.get_peft_model(EmbNet(), core.LoraConfig(target_modules=["lin"], trainable_token_indices={"wte": [1]}))
    with pytest.raises(TypeError, match="already adapted"):
        core.get_peft_model(EmbNet(), core.LoraConfig(target_modules=["lin", "emb"], trainable_token_indices={"emb": [1]}))
    with pytest.raises(ValueError, match="but not both"):
        core.get_peft_model(EmbNet(), core.LoraConfig(target_modules=["lin"], modules_to_save=["emb"],
                                                     trainable_token_indices={"emb": [1]}))


def test_ids_from_a_form_and_the_llama_cpp_export_refuses_rows():
    """The studio's text field gives ids as strings ("0 5"); a llama.cpp LoRA GGUF cannot carry embedding rows."""
    from core.gguf_export import adapter_refusals

    assert core.LoraConfig(target_modules=["lin"], trainable_token_indices=["0", "5"]).trainable_token_indices == [0, 5]
    model = core.get_peft_model(make_model("llama"), core.LoraConfig(target_modules=["q_proj"], trainable_token_indices=[4]))
    assert any("trainable_token_indices" in reason for reason in adapter_refusals(model))
