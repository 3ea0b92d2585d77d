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


# ---- the merged check reads the written files in place (no second copy of the weights) -------------


def _file_mappings():
    """(start, end, path) of every file-backed mapping of this process (Linux's /proc/self/maps)."""
    out = []
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split(maxsplit=5)
            if len(parts) == 6 and parts[5].startswith("/"):
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                out.append((lo, hi, parts[5].strip()))
    return out


def _written(tmp_path, name, dtype=None):
    model, _ = load_model(name, dtype=dtype)
    folder = tmp_path / name
    model.save_pretrained(folder, max_shard_size="100KB")
    return model, folder


@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/maps"), reason="reads /proc/self/maps")
@pytest.mark.parametrize(("name", "dtype"), [("tiny-llama", None), ("tiny-gpt2", None), ("tiny-llama", torch.bfloat16)])
def test_merged_check_maps_the_written_files_zero_copy(tmp_path, monkeypatch, name, dtype):
    from transformers import AutoModelForCausalLM

    import core.export as export_mod

    _, folder = _written(tmp_path, name, dtype)
    want = AutoModelForCausalLM.from_pretrained(folder)
    with monkeypatch.context() as m:  # the product path must not go through transformers' loader
        m.setattr(AutoModelForCausalLM, "from_pretrained", lambda *a, **k: pytest.fail("from_pretrained was used"))
        got = export_mod._reload(folder)
    maps = _file_mappings()

    def backing(t):
        return next((path for lo, hi, path in maps if lo <= t.data_ptr() < hi), None)

    # Every written tensor is a view of its shard file: nothing was copied into anonymous memory.
    for key, t in got.state_dict().items():
        assert backing(t) is not None and backing(t).startswith(str(folder)), key
    # Non-persistent buffers (rotary inv_freq (head_dim/2,)) were computed, not left on meta.
    assert dict(got.named_buffers()).keys() == dict(want.named_buffers()).keys()
    for key, b in got.named_buffers():
        assert not b.is_meta and torch.equal(b, dict(want.named_buffers())[key]), key
    assert got.dtype == want.dtype == (dtype or torch.float32)
    if want.config.tie_word_embeddings:
        assert got.get_output_embeddings().weight is got.get_input_embeddings().weight
    assert torch.equal(logits(got, IDS), logits(want, IDS))


def test_merged_check_works_with_a_read_only_map(tmp_path, monkeypatch, recwarn):
    import mmap

    import core.export as export_mod

    model, folder = _written(tmp_path, "tiny-llama")
    monkeypatch.setattr(export_mod, "_MAP_ACCESS", mmap.ACCESS_READ)  # what Windows uses
    got = export_mod._load_mapped(folder)
    assert got is not None and torch.equal(logits(got, IDS), logits(model, IDS))
    assert not [w for w in recwarn if "not writable" in str(w.message)]


def test_merged_check_falls_back_to_transformers_for_other_names(tmp_path):
    from safetensors.torch import load_file, save_file

    import core.export as export_mod

    model, folder = _written(tmp_path, "tiny-bloom")
    shard = next(folder.glob("*.safetensors"))
    state = load_file(shard)
    save_file({**state, "extra.weight": torch.zeros(2)}, shard, metadata={"format": "pt"})  # not a module name
    assert export_mod._load_mapped(folder) is None
    assert torch.allclose(logits(export_mod._reload(folder), IDS), logits(model, IDS))


def test_unreadable_written_weights_are_an_export_error(tmp_path):
    import core.export as export_mod

    _, folder = _written(tmp_path, "tiny-llama")
    shard = sorted(folder.glob("*.safetensors"))[-1]
    shard.write_bytes(shard.read_bytes()[:100])  # truncated: the header promises more than is there
    with pytest.raises(ExportError, match="Verification failed.*nothing was written"):
        export_mod._reload(folder)
