"""core.ollama (the Modelfile and `ollama create`) and core.serving (which servers load an adapter, and why not)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from core import LoraConfig, get_peft_model
from core.errors import ExportError
from core.ollama import CHATML_GO, chat_format, create, write_folder
from core.serving import check_folder


def smollm2_tokenizer():
    from core.models import load_model

    return load_model("smollm2-135m-instruct")[1]


def test_chatml_template_with_the_default_system_prompt_becomes_template_and_system(tmp_path):
    tok = smollm2_tokenizer()
    (tmp_path / "src.gguf").write_bytes(b"GGUF")
    folder = write_folder(tmp_path / "ollama", tok, model_gguf=tmp_path / "src.gguf")
    text = (tmp_path / "ollama" / "Modelfile").read_text()
    assert text == (
        "FROM ./model.gguf\n"
        f'TEMPLATE """{CHATML_GO}"""\n'
        'SYSTEM """You are a helpful AI assistant named SmolLM, trained by Hugging Face"""\n'
        'PARAMETER stop "<|im_start|>"\n'
        'PARAMETER stop "<|im_end|>"\n'
    )
    assert folder.chat_format == "chatml" and folder.files == ["model.gguf", "Modelfile"]
    assert (tmp_path / "ollama" / "model.gguf").read_bytes() == b"GGUF" and not (tmp_path / "src.gguf").exists()


def test_adapter_folder_names_both_files_and_a_plain_chatml_has_no_system(tmp_path):
    from core.models import tiny_tokenizer

    for name in ("m.gguf", "a.gguf"):
        (tmp_path / name).write_bytes(b"GGUF")
    folder = write_folder(tmp_path / "o", tiny_tokenizer(), model_gguf=tmp_path / "m.gguf", adapter_gguf=tmp_path / "a.gguf")
    lines = folder.modelfile.splitlines()
    assert lines[:2] == ["FROM ./model.gguf", "ADAPTER ./adapter.gguf"]
    assert not any(line.startswith("SYSTEM") for line in lines)
    assert folder.files == ["model.gguf", "adapter.gguf", "Modelfile"]


def test_a_template_that_is_not_chatml_or_llama3_is_left_out_and_said(tmp_path):
    from core.models import tiny_tokenizer

    tok = tiny_tokenizer()
    tok.chat_template = "{% for m in messages %}### {{ m['role'] }}: {{ m['content'] }}\n{% endfor %}### assistant:"
    assert chat_format(tok) is None
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    folder = write_folder(tmp_path / "o", tok, model_gguf=tmp_path / "m.gguf")
    assert "TEMPLATE" not in folder.modelfile and "neither ChatML nor Llama 3" in folder.notes[0]


def test_llama3_template_is_converted(tmp_path):
    from core.models import tiny_tokenizer

    tok = tiny_tokenizer()  # adds no BOS itself, so a template that wrote one would not be this form
    tok.chat_template = (
        "{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
        "{{ m['content'] }}<|eot_id|>{% endfor %}{% if add_generation_prompt %}"
        "<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
    )
    fmt = chat_format(tok)
    assert fmt is not None and fmt.name == "llama3" and "<|eot_id|>" in fmt.stops and fmt.system is None


def fake_ollama(tmp_path: Path, monkeypatch, exit_code: int = 0) -> Path:
    """A stand-in `ollama` on PATH that records its arguments and working folder."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "ollama-args.json"
    script = bindir / "ollama"
    script.write_text(
        "#!/usr/bin/env python3\nimport json, os, sys\n"
        f"json.dump({{'args': sys.argv[1:], 'cwd': os.getcwd()}}, open({str(log)!r}, 'w'))\n"
        f"print('transferring model data'); print('success'); sys.exit({exit_code})\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return log


def test_ollama_create_runs_in_the_folder_with_the_modelfile(tmp_path, monkeypatch):
    log = fake_ollama(tmp_path, monkeypatch)
    (tmp_path / "o").mkdir()
    out = create(tmp_path / "o", "capitals:latest")
    assert json.loads(log.read_text()) == {"args": ["create", "capitals:latest", "-f", "Modelfile"], "cwd": str(tmp_path / "o")}
    assert "success" in out
    with pytest.raises(ExportError, match="is not an Ollama model name"):
        create(tmp_path / "o", "bad name; rm -rf /")


def test_ollama_create_failure_and_absence_are_said(tmp_path, monkeypatch):
    fake_ollama(tmp_path, monkeypatch, exit_code=1)
    with pytest.raises(ExportError, match=r"ollama create m failed \(exit 1\)"):
        create(tmp_path, "m")
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    with pytest.raises(ExportError, match="ollama is not on PATH; run it yourself: ollama create m -f"):
        create(tmp_path, "m")


# --------------------------------------------------------------------------------------------------
# Serving check


def saved(tmp_path: Path, **lora) -> Path:
    from core.models import load_model

    model, _ = load_model("tiny-llama")
    peft = get_peft_model(model, LoraConfig(target_modules=lora.pop("target_modules", ["q_proj", "v_proj"]), **lora))
    peft.save_pretrained(tmp_path / "a")
    return tmp_path / "a"


def verdicts(folder: Path) -> dict[str, object]:
    return {v.server: v for v in check_folder(folder, model_type="llama")}


def test_plain_lora_loads_everywhere_and_a_high_rank_needs_vllms_flag(tmp_path):
    v = verdicts(saved(tmp_path, r=16))
    assert v["llama.cpp / Ollama / LM Studio"].ok and v["vLLM"].ok
    assert "--max-lora-rank" not in v["vLLM"].how
    v = verdicts(saved(tmp_path / "b", r=8, rank_pattern={"v_proj": 64}))
    assert v["vLLM"].ok and "--max-lora-rank 64 (rank 64 is above the default 16)" in v["vLLM"].how
    assert "baked into lora_b" in v["llama.cpp / Ollama / LM Studio"].how


@pytest.mark.parametrize(
    "lora, llama_words, vllm_words",
    [
        (dict(use_dora=True), "DoRA's learned magnitudes", "vLLM rejects DoRA adapters."),
        (dict(modules_to_save=["lm_head"]), "modules_to_save (lm_head) are full copies", "vLLM rejects modules_to_save (lm_head)."),
        (dict(r=600), None, "its rank 600 is above vLLM's largest --max-lora-rank (512)."),
        (dict(target_modules=["q_proj", "lm_head"]), None, "not to lm_head"),
    ],
)
def test_refusals_name_the_reason_per_server(tmp_path, lora, llama_words, vllm_words):
    v = verdicts(saved(tmp_path, **lora))
    if llama_words:
        assert not v["llama.cpp / Ollama / LM Studio"].ok and llama_words in v["llama.cpp / Ollama / LM Studio"].line()
    assert not v["vLLM"].ok and vllm_words in v["vLLM"].line() and "Serve the merged model" in v["vLLM"].line()


def test_tgi_and_lorax_verdicts(tmp_path):
    v = verdicts(saved(tmp_path, r=8))
    assert v["TGI / LoRAX"].ok and "--lora-adapters" in v["TGI / LoRAX"].how
    v = verdicts(saved(tmp_path / "d", use_dora=True))
    assert not v["TGI / LoRAX"].ok and "so DoRA's magnitudes would be left out" in v["TGI / LoRAX"].line()
    v = verdicts(saved(tmp_path / "m", modules_to_save=["lm_head"]))
    assert "modules_to_save (lm_head) would be left out" in v["TGI / LoRAX"].line()


def test_non_lora_methods_are_merged_only_everywhere(tmp_path):
    from core import IA3Config
    from core.models import load_model

    model, _ = load_model("tiny-llama")
    get_peft_model(model, IA3Config(target_modules=["k_proj", "down_proj"], feedforward_modules=["down_proj"])).save_pretrained(tmp_path)
    v = verdicts(tmp_path)
    assert not v["vLLM"].ok and "LoRA adapters only; this is IA3" in v["vLLM"].line()
    assert not v["llama.cpp / Ollama / LM Studio"].ok and "merged GGUF (--gguf)" in v["llama.cpp / Ollama / LM Studio"].line()
    assert not v["TGI / LoRAX"].ok and "LoRA adapters only; this is IA3" in v["TGI / LoRAX"].line()
    assert check_folder(tmp_path, model_type="gpt_neox")[0].ok is False


def test_serving_compatible_copy_bakes_rslora_and_per_module_rank_and_alpha_into_one_scale(tmp_path):
    """The copy has one rank and lora_alpha == r (scale 1 for any server); through our engine it gives the
    original's logits. Without the baked scales (the copy's B left as trained) the logits differ far more."""
    import torch
    from safetensors.torch import load_file, save_file

    from core.models import load_model
    from core.peft_model import PeftModel
    from core.serving import serving_compatible

    model, _ = load_model("tiny-llama")
    torch.manual_seed(0)
    peft = get_peft_model(model, LoraConfig(r=4, lora_alpha=16, use_rslora=True, rank_pattern={"v_proj": 8},
                                            alpha_pattern={"o_proj": 3}, target_modules=["q_proj", "v_proj", "o_proj"]))
    with torch.no_grad():
        for name, p in peft.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.2)
    peft.save_pretrained(tmp_path / "a")
    ids = torch.tensor([[5, 6, 7, 8, 9, 10]])
    with torch.no_grad():
        want = peft(input_ids=ids).logits
        with peft.disable_adapter():
            base = peft(input_ids=ids).logits

    def logits_of(folder):
        fresh, _ = load_model("tiny-llama")
        with torch.no_grad():
            return PeftModel.from_pretrained(fresh, folder).eval()(input_ids=ids).logits

    out = serving_compatible(tmp_path / "a", tmp_path / "b")
    config = json.loads((out / "adapter_config.json").read_text())
    assert (config["r"], config["lora_alpha"], config["use_rslora"], config["rank_pattern"], config["alpha_pattern"]) == \
        (8, 8, False, {}, {})
    shapes = {k: tuple(v.shape) for k, v in load_file(str(out / "adapter_model.safetensors")).items()}
    assert {s[0] for k, s in shapes.items() if "lora_A" in k} == {8}
    got = logits_of(out)
    effect = float((want - base).abs().max())
    assert float((got - want).abs().max()) < 1e-4 * max(1.0, effect) and effect > 0.1
    before, v = verdicts(tmp_path / "a"), verdicts(out)
    assert not before["TGI / LoRAX"].ok and "rank_pattern / alpha_pattern would be scaled wrongly" in before["TGI / LoRAX"].line()
    assert v["TGI / LoRAX"].ok and v["vLLM"].ok and v["llama.cpp / Ollama / LM Studio"].ok
    assert "baked" not in v["llama.cpp / Ollama / LM Studio"].how
    # the same padding without the per-module scales: wrong by much more than the tolerance above
    unscaled = {k: (t if "lora_B" not in k else t.clone()) for k, t in load_file(str(out / "adapter_model.safetensors")).items()}
    original = load_file(str(tmp_path / "a" / "adapter_model.safetensors"))
    for k, t in unscaled.items():
        if "lora_B" in k:
            t.zero_()
            t[:, : original[k].shape[1]] = original[k]
    (tmp_path / "c").mkdir()
    save_file(unscaled, str(tmp_path / "c" / "adapter_model.safetensors"))
    (tmp_path / "c" / "adapter_config.json").write_text(json.dumps(config))
    assert float((logits_of(tmp_path / "c") - want).abs().max()) > 0.1 * effect


def test_serving_compatible_copy_is_refused_where_no_faithful_form_exists(tmp_path):
    from core.serving import serving_compatible

    with pytest.raises(ValueError, match="no serving-compatible copy of this adapter exists: DoRA's learned magnitudes"):
        serving_compatible(saved(tmp_path, use_dora=True), tmp_path / "b")
    with pytest.raises(ValueError, match=r"modules_to_save \(lm_head\) are full copies.* Serve the merged model instead"):
        serving_compatible(saved(tmp_path / "m", modules_to_save=["lm_head"]), tmp_path / "c")
    assert not (tmp_path / "b").exists() and not (tmp_path / "c").exists()


def test_cli_serving_compatible_export_bakes_the_scales_checks_and_records_it(tmp_path, capsys):
    """``adapter-studio export --serving-compatible DIR``: a run trained with rsLoRA and a rank pattern is written
    with one rank and lora_alpha == r, each module's B multiplied by its own scale; the export loads it back and
    compares logits, prints which servers load it, and records it. DoRA has no such copy: refused, nothing left."""
    import io
    import math

    import torch
    from safetensors.torch import load_file

    from core import worker
    from core.cli import main
    from core.export import export_serving_adapter
    from core.models import load_model
    from core.store import Project

    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"{i}+1=", "completion": f" {i + 1}"}) + "\n" for i in range(24)))
    assert main(["new", str(tmp_path / "p"), "--model", "tiny-llama", "--targets", "q_proj,v_proj",
                 "--dataset", str(data), "--set", "max_length=64", "--set", "r=4", "--set", "lora_alpha=16",
                 "--set", "use_rslora=true", "--set", 'rank_pattern={"v_proj": 8}', "--set", "max_steps=2",
                 "--set", "eval_steps=0"]) == 0
    path = tmp_path / "p.adapterstudio"
    with Project.open(path) as proj:
        run_id = proj.create_run()
    assert worker.run_job(path, run_id, out=io.StringIO()) == worker.EXIT_OK
    capsys.readouterr()
    assert main(["export", str(path), "--serving-compatible", str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    assert "reloaded and checked against the adapter model" in out
    assert "TGI / LoRAX: yes" in out and "vLLM: yes" in out
    config = json.loads((tmp_path / "s" / "adapter_config.json").read_text())
    assert (config["r"], config["lora_alpha"], config["use_rslora"], config["rank_pattern"]) == (8, 8, False, {})
    with Project.open(path) as proj:
        exports = proj.exports()
        checkpoint = proj.last_checkpoint(run_id)
    assert [(e["kind"], e["path"].name, e["verified"]) for e in exports] == [("serving-adapter", "s", True)]
    # rsLoRA: q_proj (rank 4) was scaled by 16 / sqrt(4), v_proj (rank 8) by 16 / sqrt(8); the copy applies 1
    from core.runs import adapter_folder

    original = load_file(str(adapter_folder(checkpoint) / "adapter_model.safetensors"))
    copy = load_file(str(tmp_path / "s" / "adapter_model.safetensors"))
    for key, b in original.items():
        if "lora_B" in key:
            rank = b.shape[1]
            assert rank == (8 if "v_proj" in key else 4)
            assert float(b.abs().max()) > 0  # trained: the comparison below has something to compare
            torch.testing.assert_close(copy[key][:, :rank], b * (16 / math.sqrt(rank)))
            assert copy[key].shape[1] == 8 and not copy[key][:, rank:].any()
    # the same flag refuses what has no such form, in the export's words, and leaves nothing behind
    model, tok = load_model("tiny-llama")
    dora = get_peft_model(model, LoraConfig(target_modules=["q_proj"], use_dora=True))
    with pytest.raises(ExportError, match="the adapter for d: no serving-compatible copy of this adapter exists: DoRA"):
        export_serving_adapter(dora, tmp_path / "x" / "d", tokenizer=tok)
    assert not any((tmp_path / "x").iterdir())
