"""Prompt-learning adapters beyond the invariant matrix: several named adapters, ``generate(inputs_embeds=...)``,
and generation on the real SmolLM2-135M-Instruct (grouped-query attention 9/3) when it is installed."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

import core
from tests.core.test_prompt_methods import IDS, MASK, METHODS, build, full_logits, one_thread, positions, tiny  # noqa: F401 (autouse fixture)

pytestmark = [pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")]


@pytest.mark.parametrize("method", ["prompt", "ptuning-mlp", "prefix-proj", "adaption"])
def test_several_named_adapters(method, tmp_path):
    model = build(method, "llama")
    first = full_logits(model, IDS, MASK, "llama")
    torch.manual_seed(1)
    model.add_adapter("other", METHODS[method]())
    model.set_adapter("other")
    if method == "adaption":
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name.endswith("adaption_gate.other"):
                    p.fill_(-0.5)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all(".other" in n for n in trainable)
    second = full_logits(model, IDS, MASK, "llama")
    assert (first - second).abs().max() > 1e-3
    model.save_pretrained(tmp_path)  # default in tmp_path, "other" in tmp_path/other
    loaded = core.PeftModel.from_pretrained(tiny("llama"), tmp_path)
    loaded.load_adapter(tmp_path / "other", "other")
    torch.testing.assert_close(full_logits(loaded, IDS, MASK, "llama"), first, atol=1e-6, rtol=1e-6)
    loaded.set_adapter("other")
    torch.testing.assert_close(full_logits(loaded, IDS, MASK, "llama"), second, atol=1e-6, rtol=1e-6)
    model.delete_adapter("other")
    torch.testing.assert_close(full_logits(model, IDS, MASK, "llama"), first, atol=0, rtol=0)
    assert "other" not in getattr(model, "prompt_encoder", {})


@pytest.mark.parametrize("method", ["prompt", "prefix"])
@pytest.mark.parametrize("family", ["bloom", "llama"])
def test_generate_from_inputs_embeds(method, family):
    model = build(method, family)
    kw = dict(attention_mask=MASK, max_new_tokens=3, do_sample=False, pad_token_id=3, eos_token_id=None)
    from_ids = model.generate(input_ids=IDS, **kw)
    embeds = model.get_base_model().get_input_embeddings()(IDS)
    from_embeds = model.generate(inputs_embeds=embeds, **kw)
    assert torch.equal(from_embeds[:, -3:], from_ids[:, -3:])


def _smollm2():
    try:
        from core.models import load_model

        return load_model("smollm2-135m-instruct")
    except Exception as exc:  # noqa: BLE001 - not installed here: the tiny models cover the logic
        pytest.skip(f"SmolLM2-135M-Instruct is not available ({exc})")


def test_real_smollm2_generation_equals_full_passes(tmp_path):
    model, tokenizer = _smollm2()
    batch = tokenizer(["The capital of France is", "Hi"], return_tensors="pt", padding=True, padding_side="left")
    ids, mask = batch["input_ids"], batch["attention_mask"]
    assert mask[1, 0] == 0  # left padding in the second row
    tokenizer.save_pretrained(tmp_path)
    configs = [
        core.PromptTuningConfig(num_virtual_tokens=4, prompt_tuning_init="TEXT", prompt_tuning_init_text="Answer briefly:",
                                tokenizer_name_or_path=str(tmp_path), task_type="CAUSAL_LM"),
        core.PrefixTuningConfig(num_virtual_tokens=4, task_type="CAUSAL_LM"),  # K/V width 3·64 (GQA)
    ]
    for config in configs:
        torch.manual_seed(0)
        peft_model = core.get_peft_model(model, config)
        with torch.no_grad():
            for p in peft_model.prompt_encoder["default"].parameters():
                p.mul_(0.02)  # real-model scale, so the text stays sensible
        out = peft_model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=3, do_sample=False,
                                  output_logits=True, return_dict_in_generate=True, pad_token_id=tokenizer.pad_token_id)
        for t in range(3):
            cur = out.sequences[:, : ids.shape[1] + t]
            m = torch.cat([mask, torch.ones(2, t, dtype=mask.dtype)], dim=1)
            with torch.no_grad():
                full = peft_model(input_ids=cur, attention_mask=m, position_ids=positions(m)).logits[:, -1]
            torch.testing.assert_close(out.logits[t], full, atol=1e-4, rtol=1e-4)
        model = peft_model.unload()


@pytest.mark.parametrize("method", ["prompt", "ptuning-mlp", "prefix", "adaption"])
@pytest.mark.parametrize("family", ["bloom", "llama"])
def test_beam_search_scores_equal_full_passes(method, family):
    """Beams and several returned sequences: each sequence's score is its log-probability under full passes."""
    model = build(method, family)
    new = 3
    out = model.generate(input_ids=IDS, attention_mask=MASK, max_new_tokens=new, num_beams=3, num_return_sequences=2,
                         do_sample=False, length_penalty=0.0, output_scores=True, return_dict_in_generate=True,
                         pad_token_id=3, eos_token_id=None)
    seq = out.sequences  # (B·2, L + new), rows grouped per input
    mask = torch.cat([MASK.repeat_interleave(2, dim=0), torch.ones(seq.shape[0], new, dtype=MASK.dtype)], dim=1)
    logp = full_logits(model, seq, mask, family).log_softmax(-1)  # (B·2, L + new, V)
    L = IDS.shape[1]
    chosen = logp[:, L - 1 : -1].gather(-1, seq[:, L:, None])[..., 0]  # (B·2, new)
    torch.testing.assert_close(out.sequences_scores, chosen.sum(-1), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("method", ["prompt", "ptuning-lstm", "prefix", "prefix-proj"])
def test_loading_into_a_live_adapter_keeps_its_parameters(method, tmp_path):
    """Resuming a checkpoint loads into the running model: the optimizer's parameters must stay the live ones."""
    model = build(method, "gpt2")
    model.save_pretrained(tmp_path)
    expected = full_logits(model, IDS, MASK, "gpt2")
    params = [p for p in model.parameters() if p.requires_grad]
    with torch.no_grad():
        for p in params:
            p.add_(1.0)
    model._load_weights("default", load_file(tmp_path / "adapter_model.safetensors"), str(tmp_path))
    assert [id(p) for p in model.parameters() if p.requires_grad] == [id(p) for p in params]  # the very same tensors
    torch.testing.assert_close(full_logits(model, IDS, MASK, "gpt2"), expected, atol=1e-6, rtol=1e-6)
