"""Differential tests: prompt tuning, P-tuning, prefix tuning (and adaption prompt where PEFT supports the model)
against peft 0.21.2 forward passes and files, on the same tiny models.

- the same trainable/all counts and trainable parameter names (PEFT's in-memory names: ``prompt_encoder.default.*``);
- with the same weights: the same logits and loss (batch 2, left padding, labels);
- our files load in PEFT with equal logits (PEFT ignores our ``prompt_encoder_state.*`` resume keys), PEFT's files
  load in ours with equal logits; the same adapter_config.json keys and values.

Never PEFT's ``generate()``: it is wrong for prompt learning with transformers 5.x (see test_prompt_methods).
"""

from __future__ import annotations

import json
import warnings

import pytest
import torch
from safetensors.torch import load_file

import core
from tests.core.test_prompt_methods import IDS, MASK, METHODS, build, one_thread, tiny  # noqa: F401 (autouse fixture)

peft = pytest.importorskip("peft")

pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")]

# our config kwargs -> peft's config class (same field names)
PEFT_CLASS = {
    "PROMPT_TUNING": "PromptTuningConfig", "P_TUNING": "PromptEncoderConfig",
    "PREFIX_TUNING": "PrefixTuningConfig", "ADAPTION_PROMPT": "AdaptionPromptConfig",
}
PEFT_FAMILIES = {"ADAPTION_PROMPT": ("llama", "gpt2")}  # PEFT refuses adaption prompt on bloom
CASES = [(m, f) for m in METHODS for f in ("bloom", "llama", "gpt2")
         if f in PEFT_FAMILIES.get(METHODS[m]().peft_type.value, (f,))]


def _peft_config(ours):
    data = {k: v for k, v in ours.to_dict().items() if k not in ("peft_type", "base_model_name_or_path", "inference_mode")}
    for key in ("token_dim", "num_attention_heads", "num_layers", "num_transformer_submodules", "encoder_hidden_size"):
        data.pop(key, None)  # let peft fill them in from the model, as it does
    if ours.peft_type.value == "P_TUNING":
        data["encoder_hidden_size"] = ours.encoder_hidden_size
    if ours.peft_type.value == "PREFIX_TUNING" and ours.prefix_projection:
        data["encoder_hidden_size"] = ours.encoder_hidden_size
    return getattr(peft, PEFT_CLASS[ours.peft_type.value])(**data)


def _pair(method, family):
    ours = build(method, family)
    theirs = peft.get_peft_model(tiny(family), _peft_config(METHODS[method]()))
    if ours.peft_type.value == "ADAPTION_PROMPT":  # in memory PEFT swaps whole modules per adapter: go by file keys
        result = peft.set_peft_model_state_dict(theirs, {k: v.detach().clone() for k, v in ours.adapter_state_dict().items()})
    else:  # PEFT's in-memory names are ours: prompt_encoder.default.*
        state = {k: v for k, v in ours.state_dict().items() if "prompt_encoder." in k}
        result = theirs.load_state_dict(state, strict=False)
    assert not result.unexpected_keys
    return ours, theirs


def _trainable_names(model) -> set[str]:
    """Trainable parameter names, the adapter name dropped from adaption-prompt keys (PEFT's have none)."""
    return {n.removesuffix(".default") for n, p in model.named_parameters() if p.requires_grad}


def _logits(model, mask=MASK):
    with torch.no_grad():
        return model(input_ids=IDS, attention_mask=mask).logits


@pytest.mark.parametrize("method, family", CASES)
def test_same_parameters_and_forward(method, family):
    ours, theirs = _pair(method, family)
    assert ours.get_nb_trainable_parameters() == theirs.get_nb_trainable_parameters()
    assert _trainable_names(ours) == _trainable_names(theirs)
    torch.testing.assert_close(_logits(ours), _logits(theirs), atol=1e-5, rtol=1e-5)
    labels = IDS.masked_fill(MASK == 0, -100)
    ours.train(), theirs.train()
    torch.testing.assert_close(ours(input_ids=IDS, attention_mask=MASK, labels=labels).loss,
                               theirs(input_ids=IDS, attention_mask=MASK, labels=labels).loss, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("method, family", CASES)
def test_files_load_both_ways(method, family, tmp_path):
    ours, theirs = _pair(method, family)
    ours.eval(), theirs.eval()
    expected = _logits(ours)
    ours.save_pretrained(tmp_path / "ours")
    theirs.save_pretrained(tmp_path / "theirs")
    ours_keys = set(load_file(tmp_path / "ours" / "adapter_model.safetensors"))
    theirs_file = load_file(tmp_path / "theirs" / "adapter_model.safetensors")
    assert set(theirs_file) <= ours_keys and all(k.startswith("prompt_encoder_state.") for k in ours_keys - set(theirs_file))
    for key, tensor in theirs_file.items():  # the same tensors PEFT writes
        torch.testing.assert_close(load_file(tmp_path / "ours" / "adapter_model.safetensors")[key], tensor, atol=1e-6, rtol=1e-6)
    ours_json = json.loads((tmp_path / "ours" / "adapter_config.json").read_text())
    theirs_json = json.loads((tmp_path / "theirs" / "adapter_config.json").read_text())
    theirs_json.pop("auto_mapping", None)
    ignore = {"peft_version", "base_model_name_or_path"}
    assert {k: v for k, v in ours_json.items() if k not in ignore} == {k: v for k, v in theirs_json.items() if k not in ignore}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        in_peft = peft.PeftModel.from_pretrained(tiny(family), tmp_path / "ours")
    assert not [w for w in caught if "missing" in str(w.message).lower() or "unexpected" in str(w.message).lower()]
    torch.testing.assert_close(_logits(in_peft), expected, atol=1e-5, rtol=1e-5)
    in_ours = core.PeftModel.from_pretrained(tiny(family), tmp_path / "theirs")
    torch.testing.assert_close(_logits(in_ours), expected, atol=1e-5, rtol=1e-5)
    # a PEFT file can be trained on too (the table itself when PEFT dropped the encoder)
    resumed = core.PeftModel.from_pretrained(tiny(family), tmp_path / "theirs", is_trainable=True)
    assert any(p.requires_grad for p in resumed.parameters())
    torch.testing.assert_close(_logits(resumed), expected, atol=1e-5, rtol=1e-5)
