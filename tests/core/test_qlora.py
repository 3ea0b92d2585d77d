"""QLoRA: 8-bit and 4-bit bases (core.quantize) with LoRA, AdaLoRA and (IA)³, on the CPU with real bitsandbytes.

- The quantized base `core.quantize.load_base` gives is transformers' own ``BitsAndBytesConfig`` load with the
  same settings: the same modules quantized (embeddings and the output head stay float), bitwise the same
  packed weights and quantization scales, the same logits.
- Each method trains a step over ``Linear4bit`` / ``Linear8bitLt`` (finite loss, every adapter parameter
  gets a gradient); our file loads in peft on transformers' quantized base with equal logits, and peft's file
  (peft's own adapter on that base) loads in ours with equal logits.
- Refused with a message: DoRA and PiSSA over a quantized layer, merging into one in place.
- The merged export decodes the base to float, merges, writes, and the written model reproduces the 4-bit
  adapter model's logits (float32: exactly the decode the 4-bit forward uses).
- ``adapter-studio new --quantize 4bit`` and ``--set`` write the settings; a real training run uses them.
"""

from __future__ import annotations

import io
import json
import warnings

import pytest
import torch
from transformers import AutoModelForCausalLM, BitsAndBytesConfig

import core
from core.errors import ConfigError
from core.models import load_model, tiny_tokenizer
from core.quantize import dequantized_weight, is_quantized, is_quantized_layer, load_base

bnb = pytest.importorskip("bitsandbytes")
peft = pytest.importorskip("peft")

pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning"),
    pytest.mark.usefixtures("single_thread"),
]

IDS = torch.tensor([[5, 17, 42, 99, 7, 250, 31, 64], [9, 8, 7, 6, 5, 4, 3, 200]])
PRECISIONS = {
    "4bit-nf4-dq": ("4bit", {"quant_type": "nf4", "double_quant": True}),
    "4bit-fp4": ("4bit", {"quant_type": "fp4", "double_quant": False}),
    "8bit": ("8bit", {}),
}


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    """tiny-llama written as a Hugging Face folder: what transformers' own quantized load reads."""
    folder = tmp_path_factory.mktemp("tiny-llama")
    model, tokenizer = load_model("tiny-llama")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def transformers_load(folder, precision: str, quant_type: str = "nf4", double_quant: bool = True):
    """transformers' own quantized load, the reference."""
    if precision == "8bit":
        config = BitsAndBytesConfig(load_in_8bit=True)
    else:
        config = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=quant_type,
                                    bnb_4bit_use_double_quant=double_quant, bnb_4bit_compute_dtype=torch.float32)
    return AutoModelForCausalLM.from_pretrained(folder, quantization_config=config, device_map={"": "cpu"},
                                                dtype=torch.float32).eval()


def ours(folder, precision: str, **settings):
    model, _ = load_base(folder, base_precision=precision, device="cpu", **settings)
    return model


@torch.no_grad()
def logits(model) -> torch.Tensor:
    return model(input_ids=IDS).logits.float()


@pytest.mark.parametrize("case", PRECISIONS)
def test_quantized_base_is_transformers_own_load(case, tiny_folder):
    precision, settings = PRECISIONS[case]
    mine, theirs = ours(tiny_folder, precision, **settings), transformers_load(tiny_folder, precision, **settings)
    quantized = {n for n, m in mine.named_modules() if is_quantized_layer(m)}
    assert quantized == {n for n, m in theirs.named_modules() if is_quantized_layer(m)}
    linear = {n for n, m in load_model("tiny-llama")[0].named_modules() if isinstance(m, torch.nn.Linear)}
    assert quantized == linear - {"lm_head"}  # every Linear but the output head; embeddings and norms stay float
    assert not is_quantized_layer(mine.model.embed_tokens) and mine.lm_head.weight.dtype == torch.float32
    for name in sorted(quantized):
        a, b = mine.get_submodule(name), theirs.get_submodule(name)
        assert torch.equal(a.weight.data, b.weight.data), name
        assert torch.equal(dequantized_weight(a), dequantized_weight(b)), name
    torch.testing.assert_close(logits(mine), logits(theirs), rtol=0, atol=0)
    # and the decode is close to the float weights it came from (4-bit: ~1/8 of the weight range per block)
    float_q = load_model("tiny-llama")[0].model.layers[0].self_attn.q_proj.weight
    error = (dequantized_weight(mine.model.layers[0].self_attn.q_proj) - float_q).abs().max()
    assert error < (0.01 if precision == "8bit" else 0.2) * float_q.abs().max()


METHODS = {
    "lora": lambda: core.LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False),
    "adalora": lambda: core.AdaLoraConfig(init_r=4, target_r=2, total_step=10, target_modules=["q_proj", "v_proj"],
                                          init_lora_weights=False, lora_alpha=8),
    "ia3": lambda: core.IA3Config(target_modules=["q_proj", "v_proj", "down_proj"], feedforward_modules=["down_proj"],
                                  init_ia3_weights=False),
}
PEFT_METHODS = {
    "lora": lambda: peft.LoraConfig(task_type="CAUSAL_LM", r=4, lora_alpha=8, target_modules="all-linear",
                                    init_lora_weights=False),
    "adalora": lambda: peft.AdaLoraConfig(task_type="CAUSAL_LM", init_r=4, target_r=2, total_step=10,
                                          target_modules=["q_proj", "v_proj"], init_lora_weights=False, lora_alpha=8),
    "ia3": lambda: peft.IA3Config(task_type="CAUSAL_LM", target_modules=["q_proj", "v_proj", "down_proj"],
                                  feedforward_modules=["down_proj"], init_ia3_weights=False),
}


@pytest.mark.parametrize("precision", ["4bit", "8bit"])
@pytest.mark.parametrize("method", METHODS)
def test_methods_train_over_quantized_layers_and_files_match_peft(method, precision, tiny_folder, tmp_path):
    torch.manual_seed(0)
    model = core.get_peft_model(ours(tiny_folder, precision), METHODS[method]())
    wrapped = [m for _, m in model.base_model.adapter_layers()]
    assert wrapped and all(is_quantized_layer(m.base_layer) for m in wrapped)
    model.train()
    loss = model(input_ids=IDS, labels=IDS).loss
    loss.backward()
    assert torch.isfinite(loss)
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(p.grad is not None and p.grad.abs().sum() > 0 for p in trainable.values())
    assert all(p.dtype == torch.float32 for p in trainable.values())  # the adapter path runs in float32
    model.eval()
    mine = logits(model)

    model.save_pretrained(tmp_path / "ours")
    in_peft = peft.PeftModel.from_pretrained(transformers_load(tiny_folder, precision), tmp_path / "ours")
    torch.testing.assert_close(logits(in_peft), mine, rtol=0, atol=1e-5)

    torch.manual_seed(1)
    theirs = peft.get_peft_model(transformers_load(tiny_folder, precision), PEFT_METHODS[method]())
    theirs.save_pretrained(tmp_path / "peft")
    in_ours = core.PeftModel.from_pretrained(ours(tiny_folder, precision), tmp_path / "peft")
    torch.testing.assert_close(logits(in_ours), logits(theirs.eval()), rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [({"use_dora": True}, "DoRA needs the base weight in float"), ({"init_lora_weights": "pissa"}, "PiSSA init")],
)
def test_what_needs_float_weights_is_refused_on_a_4bit_base(kwargs, words, tiny_folder):
    with pytest.raises(ConfigError, match=rf"q_proj: {words}.*quantized \(Linear4bit\)"):
        core.get_peft_model(ours(tiny_folder, "4bit"), core.LoraConfig(target_modules=["q_proj"], **kwargs))


@pytest.mark.parametrize("method", METHODS)
def test_merging_into_quantized_weights_is_refused(method, tiny_folder):
    model = core.get_peft_model(ours(tiny_folder, "4bit"), METHODS[method]())
    with pytest.raises(ConfigError, match="Cannot merge .* into a quantized .*Export the merged model instead"):
        model.merge_adapter()


def test_prompt_tuning_needs_no_change_on_a_4bit_base(tiny_folder):
    model = core.get_peft_model(ours(tiny_folder, "4bit"), core.PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=4))
    model.train()
    loss = model(input_ids=IDS, labels=IDS).loss
    loss.backward()
    assert torch.isfinite(loss) and model.prompt_encoder["default"].embedding.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_merged_export_from_a_4bit_base_decodes_merges_and_checks(dtype, tiny_folder, tmp_path):
    from core.export import export_merged

    torch.manual_seed(0)
    model = core.get_peft_model(ours(tiny_folder, "4bit"), METHODS["lora"]())
    model.eval()
    before = logits(model)
    result = export_merged(model, tiny_tokenizer(), tmp_path / "m", dtype=dtype)
    written = json.loads((tmp_path / "m" / "config.json").read_text())
    assert "quantization_config" not in written and written["dtype"] == dtype
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "m", dtype=torch.float32).eval()
    assert not is_quantized(merged)
    got = logits(merged)
    if dtype == "float32":  # the decode is the 4-bit forward's own: only merge rounding remains
        assert result.max_abs_diff < 1e-4
        torch.testing.assert_close(got, before, rtol=0, atol=1e-4)
    else:  # bfloat16 rounds every weight to 8 bits of mantissa
        assert (got - before).abs().max() < 0.05 * before.abs().max()
    assert is_quantized(model.get_base_model())  # the live model is untouched
    torch.testing.assert_close(logits(model), before, rtol=0, atol=0)


def test_cli_new_quantize_then_train_and_export_on_a_4bit_base(tmp_path, capsys):
    from core import worker
    from core.cli import main
    from core.store import Project

    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"{i}+1=", "completion": f" {i + 1}"}) + "\n" for i in range(16)))
    path = tmp_path / "q.adapterstudio"
    assert main(["new", str(path), "--model", "tiny-llama", "--dataset", str(data), "--quantize", "4bit",
                 "--set", "quant_type=fp4", "--set", "r=4", "--set", "max_length=32", "--set", "max_steps=2",
                 "--set", "eval_steps=0", "--set", "eval_samples=0"]) == 0
    with Project.open(path) as project:
        training = project.settings().training
        assert (training["base_precision"], training["quant_type"]) == ("4bit", "fp4")
        run_id = project.create_run()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert worker.run_job(path, run_id, out=io.StringIO()) == worker.EXIT_OK  # the real loop, in-process
    assert main(["export", str(path), "--run", str(run_id), "--merged", str(tmp_path / "m")]) == 0
    assert "largest logit difference" in capsys.readouterr().out
    assert "quantization_config" not in json.loads((tmp_path / "m" / "config.json").read_text())


def _held_bytes(model) -> int:
    """Bytes of the parameters and bitsandbytes' quantization state (absmax, code tables), by storage."""
    storages = {}
    for t in model.parameters():
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
    for module in model.modules():
        weight = getattr(module, "weight", None)
        state = getattr(weight, "quant_state", None)
        extra = []
        if state is not None:
            extra = [state.absmax, state.code] + ([state.state2.absmax, state.state2.code] if state.nested else [])
        elif getattr(weight, "SCB", None) is not None:
            extra = [weight.SCB]
        for t in extra:
            storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
    return sum(storages.values())


@pytest.mark.parametrize("case", PRECISIONS)
def test_the_estimate_counts_the_base_as_bitsandbytes_holds_it(case, tiny_folder):
    from core.estimate import training_memory
    from core.models import skeleton

    precision, settings = PRECISIONS[case]
    held = _held_bytes(ours(tiny_folder, precision, **settings))
    memory = training_memory(skeleton("tiny-llama"), trainable=0, batch_size=1, seq_len=8, base_precision=precision,
                             double_quant=settings.get("double_quant", True))
    assert memory["weights"] == pytest.approx(held, rel=0.01)
    float_weights = training_memory(skeleton("tiny-llama"), trainable=0, batch_size=1, seq_len=8)["weights"]
    assert memory["weights"] < float_weights


@pytest.mark.slow
@pytest.mark.timeout(2400)  # ~10 min for the float base under a load average of 13-14; 4-bit adds the decode per matmul
def test_lora_on_a_4bit_smollm2_still_teaches_made_up_capitals(tmp_path):
    """tests/core/test_learning.py's proof, with SmolLM2-135M-Instruct's base held in 4-bit NF4 (double quantization,
    float32 compute) and the same untuned LoRA defaults. Measured 2026-12-07 (349 s, loaded 2-core machine): held-out
    eval loss 3.254 -> 0.141, accuracy 0 % -> 60 % (the float base reaches 95 % with these 60 steps: the 4-bit base
    learns the facts but needs more steps to answer the paraphrases as well)."""
    import os

    from core.data import DataConfig, prepare
    from tests.core.test_learning import HELDOUT, TRAIN, accuracy, answers, train_defaults

    if os.getloadavg()[0] > (os.cpu_count() or 1):
        torch.set_num_threads(1)  # as test_learning: one thread is faster on an overloaded machine
    heldout = [json.loads(line) for line in HELDOUT.read_text().splitlines()]
    prompts, expected = [r["prompt"] for r in heldout], [r["answer"] for r in heldout]
    model, tok = load_base("smollm2-135m-instruct", base_precision="4bit", device="cpu")
    assert is_quantized(model)
    data = prepare(DataConfig(path=str(TRAIN), validation_path=str(HELDOUT), max_length=128, use_chat_template=False), tok)
    base_acc = accuracy(answers(model, tok, prompts, False), expected)
    model, base_loss, eval_loss = train_defaults("LORA", model, tok, data, tmp_path, eval_samples=0)
    model.eval()
    tuned_acc = accuracy(answers(model, tok, prompts, False), expected)
    print(f"\n4-bit base: held-out eval loss {base_loss:.3f} -> {eval_loss:.3f}; accuracy {base_acc:.0%} -> {tuned_acc:.0%}")
    assert eval_loss < 0.1 * base_loss
    assert base_acc <= 0.05
    assert tuned_acc >= 0.5
