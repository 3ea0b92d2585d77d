"""core.export: merged and adapter-only exports, verified before they are renamed into place."""

from __future__ import annotations

import json

import pytest
import torch

from core import LoraConfig, get_peft_model
from core.export import ExportError, export_adapter, export_merged
from core.models import load_model
from core.peft_model import PeftModel


def trained(name="tiny-llama", **lora):
    model, tok = load_model(name)
    torch.manual_seed(0)
    peft = get_peft_model(model, LoraConfig(r=4, target_modules="all-linear", **lora))
    with torch.no_grad():  # a non-zero update, as after training
        for n, p in peft.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.05)
    return peft, tok


def logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids).logits


IDS = torch.tensor([[5, 17, 42, 99, 123, 7, 64, 200]])


@pytest.mark.parametrize("name", ["tiny-llama", "tiny-gpt2", "tiny-bloom"])
def test_merged_export_loads_with_transformers_and_matches(tmp_path, name):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    peft, tok = trained(name)
    want = logits(peft, IDS)
    result = export_merged(peft, tok, tmp_path / "merged", max_shard_size="100KB")
    assert result.kind == "merged" and result.max_abs_diff < 1e-4
    files = {p.name for p in (tmp_path / "merged").iterdir()}
    assert {"config.json", "model.safetensors.index.json", "generation_config.json", "tokenizer.json"} <= files  # sharded
    assert not any(p.name.startswith(".merged") for p in tmp_path.iterdir())  # no temp folder left
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path / "merged")
    assert not any("lora" in k or "base_layer" in k for k in reloaded.state_dict())
    assert torch.allclose(logits(reloaded, IDS), want, atol=1e-4)
    assert AutoTokenizer.from_pretrained(tmp_path / "merged")("hi")["input_ids"] == tok("hi")["input_ids"]
    assert torch.allclose(logits(peft, IDS), want, atol=1e-5)  # the live adapter model still works, unmerged


def test_merged_export_of_dora_and_modules_to_save(tmp_path):
    from transformers import AutoModelForCausalLM

    peft, tok = trained(use_dora=True, modules_to_save=["lm_head"])
    with torch.no_grad():
        peft.get_base_model().lm_head.modules_to_save["default"].weight.mul_(1.1)
    want = logits(peft, IDS)
    export_merged(peft, tok, tmp_path / "m")
    assert torch.allclose(logits(AutoModelForCausalLM.from_pretrained(tmp_path / "m"), IDS), want, atol=1e-4)


def test_adapter_export_is_peft_layout_and_reloads(tmp_path):
    peft, tok = trained()
    want = logits(peft, IDS)
    result = export_adapter(peft, tmp_path / "ad", tokenizer=tok)
    assert result.kind == "adapter" and result.max_abs_diff == 0.0
    assert {"adapter_config.json", "adapter_model.safetensors"} <= set(result.files)
    assert json.loads((tmp_path / "ad/adapter_config.json").read_text())["peft_type"] == "LORA"
    assert peft.peft_config.keys() == {"default"}  # the check adapter is gone
    base, _ = load_model("tiny-llama")
    assert torch.allclose(logits(PeftModel.from_pretrained(base, tmp_path / "ad"), IDS), want, atol=1e-6)


def test_failed_verification_leaves_nothing(tmp_path, monkeypatch):
    import core.export as export_mod

    peft, tok = trained()
    real = export_mod._plain_state_dict

    def corrupt(base, adapter):  # a wrong weight is written: the reload must catch it
        state = dict(real(base, adapter))
        key = next(k for k in state if k.endswith("q_proj.weight"))
        state[key] = state[key] + 1.0
        return state

    monkeypatch.setattr(export_mod, "_plain_state_dict", corrupt)
    with pytest.raises(ExportError, match="Verification failed.*differs"):
        export_merged(peft, tok, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_existing_destination_and_overwrite(tmp_path):
    peft, tok = trained()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match="already exists"):
        export_adapter(peft, tmp_path / "out")
    assert (tmp_path / "out" / "keep.txt").exists()
    export_adapter(peft, tmp_path / "out", overwrite=True)
    assert not (tmp_path / "out" / "keep.txt").exists() and (tmp_path / "out" / "adapter_model.safetensors").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_prompt_learning_cannot_be_merged(tmp_path):
    class Fake:
        peft_type = "PROMPT_TUNING"

    with pytest.raises(ExportError, match="cannot be merged.*Export the adapter instead"):
        export_merged(Fake(), None, tmp_path / "x")
    assert not (tmp_path / "x").exists()
