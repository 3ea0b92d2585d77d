"""PEFT's printed figures on the full-size architectures, reproduced from meta-device skeletons (no weights)."""

import pytest

import core
from core.models import skeleton

CASES = [
    # (model, LoRA settings, PEFT's line, verified with peft 0.21.2 on real CPU weights)
    ("bloomz-560m", dict(r=8, target_modules=["query_key_value"]),
     "trainable params: 786,432 || all params: 560,001,024 || trainable%: 0.1404"),
    ("bloomz-560m", dict(r=8),  # no targets: bloom's default is query_key_value
     "trainable params: 786,432 || all params: 560,001,024 || trainable%: 0.1404"),
    ("bloomz-560m", dict(r=8, target_modules="all-linear"),
     "trainable params: 3,145,728 || all params: 562,360,320 || trainable%: 0.5594"),
    ("smollm2-135m-instruct", dict(r=8),
     "trainable params: 460,800 || all params: 134,975,808 || trainable%: 0.3414"),
    ("smollm2-135m-instruct", dict(r=8, target_modules="all-linear"),
     "trainable params: 2,442,240 || all params: 136,957,248 || trainable%: 1.7832"),
]


@pytest.mark.parametrize("ref, settings, line", CASES)
def test_print_trainable_parameters_matches_peft(ref, settings, line, capsys):
    model = core.get_peft_model(skeleton(ref), core.LoraConfig(task_type="CAUSAL_LM", **settings))
    model.print_trainable_parameters()
    assert capsys.readouterr().out.strip() == line


def test_skeleton_adapter_allocates_nothing():
    model = core.get_peft_model(skeleton("bloomz-560m"), core.LoraConfig(r=8))
    assert {p.device.type for p in model.parameters()} == {"meta"}
