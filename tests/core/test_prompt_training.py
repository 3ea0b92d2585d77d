"""The four methods through the real training loop (``core.train``): a run completes and learns, and a stopped
run resumed from its checkpoint equals an uninterrupted one (the encoder weights come back from the file)."""

from __future__ import annotations

import json
import threading

import pytest
import torch

import core
from core.data import DataConfig, prepare
from core.models import load_model
from core.protocol import Finished, Step
from core.train import TrainingArguments, train
from tests.core.test_prompt_methods import one_thread  # noqa: F401 (autouse fixture)

pytestmark = [pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")]

CONFIGS = {
    "prompt": lambda: core.PromptTuningConfig(num_virtual_tokens=4, task_type="CAUSAL_LM"),
    "ptuning": lambda: core.PromptEncoderConfig(num_virtual_tokens=4, encoder_hidden_size=16, encoder_dropout=0.1,
                                                encoder_reparameterization_type="LSTM", encoder_num_layers=2, task_type="CAUSAL_LM"),
    "prefix-proj": lambda: core.PrefixTuningConfig(num_virtual_tokens=4, prefix_projection=True, encoder_hidden_size=16, task_type="CAUSAL_LM"),
    "adaption": lambda: core.AdaptionPromptConfig(adapter_len=4, adapter_layers=2, task_type="CAUSAL_LM"),
}
ARGS = dict(max_steps=6, batch_size=4, warmup_steps=0, eval_steps=0, save_steps=3, learning_rate=5e-2)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "d.jsonl"
    path.write_text("\n".join(json.dumps({"prompt": f"Code {i}?", "completion": f"It is {i * 7 % 13}."}) for i in range(24)))
    return path


def _setup(method, dataset, seed=0):
    model, tok = load_model("tiny-llama")
    torch.manual_seed(seed)
    peft_model = core.get_peft_model(model, CONFIGS[method]())
    return peft_model, tok, prepare(DataConfig(path=str(dataset), validation_split=0.25), tok)


@pytest.mark.parametrize("method", list(CONFIGS))
def test_stop_then_resume_equals_an_uninterrupted_run(method, dataset, tmp_path):
    peft_model, tok, data = _setup(method, dataset)
    full = list(train(peft_model, tok, data, TrainingArguments(**ARGS), tmp_path / "a"))
    assert isinstance(full[-1], Finished) and full[-1].status == "completed", full[-1]
    full_losses = {e.step: e.loss for e in full if isinstance(e, Step)}
    assert full_losses[6] < full_losses[1]

    peft_model, tok, data = _setup(method, dataset)
    stop = threading.Event()
    first = []
    for e in train(peft_model, tok, data, TrainingArguments(**{**ARGS, "save_steps": 0}), tmp_path / "b", should_stop=stop):
        first.append(e)
        if isinstance(e, Step) and e.step == 2:
            stop.set()
    ckpt = first[-1].checkpoint
    peft_model, tok, data = _setup(method, dataset, seed=123)  # a different init: everything comes from the checkpoint
    second = list(train(peft_model, tok, data, TrainingArguments(**ARGS), tmp_path / "b", resume_from=ckpt))
    losses = {e.step: e.loss for e in first + second if isinstance(e, Step)}
    assert sorted(losses) == list(range(1, 7))
    for step, loss in losses.items():
        assert loss == pytest.approx(full_losses[step], abs=1e-5), step


def test_prefix_tuning_refuses_gradient_checkpointing(dataset, tmp_path):
    peft_model, tok, data = _setup("prefix-proj", dataset)
    args = TrainingArguments(max_steps=1, batch_size=4, warmup_steps=0, eval_steps=0, save_steps=0, gradient_checkpointing=True)
    last = list(train(peft_model, tok, data, args, tmp_path))[-1]
    assert "Prefix tuning does not work with gradient checkpointing" in last.reason
    model, _ = load_model("tiny-llama")
    model.gradient_checkpointing_enable()
    with pytest.raises(core.ConfigError, match="gradient checkpointing"):
        core.get_peft_model(model, CONFIGS["prefix-proj"]())
