"""core.gguf_export: merged models and LoRA adapters as GGUF, each checked by llama.cpp itself (llama-cpp-python)
against our model before the file is put in place.

The tiny architectures are random models built from transformers configs with weights large enough that the
logits spread over several units (a wrong reshuffle or a missing tensor shows far above the tolerance); every
one carries a LoRA with non-zero B on all linear layers, so the merge is part of what llama.cpp must reproduce.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
import torch

from core import LoraConfig, get_peft_model
from core.errors import ExportError
from core.gguf_export import llama_cpp_available

LLAMA_CPP = llama_cpp_available()
needs_llama_cpp = pytest.mark.skipif(LLAMA_CPP is not None, reason=f"llama.cpp is not importable: {LLAMA_CPP}")

V, H = 260, 64  # the tiny byte tokenizer's vocabulary; hidden size (q8_0 rows are whole 32-blocks)


def _config(kind: str, vocab: int = V, **extra):
    import transformers as tf

    common = dict(vocab_size=vocab, hidden_size=H, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                  max_position_embeddings=256, bos_token_id=0, eos_token_id=2, pad_token_id=3, **extra)
    if kind == "llama":
        return tf.LlamaConfig(num_key_value_heads=2, tie_word_embeddings=False, **common)
    if kind == "llama-tied":
        return tf.LlamaConfig(num_key_value_heads=2, tie_word_embeddings=True, **common)
    if kind == "mistral":
        return tf.MistralConfig(num_key_value_heads=2, sliding_window=None, tie_word_embeddings=False, **common)
    if kind == "qwen2":
        return tf.Qwen2Config(num_key_value_heads=2, tie_word_embeddings=True, **common)
    if kind == "qwen3":
        return tf.Qwen3Config(num_key_value_heads=2, head_dim=32, tie_word_embeddings=True, **common)
    if kind == "gemma2":
        return tf.Gemma2Config(num_key_value_heads=2, head_dim=16, query_pre_attn_scalar=16, sliding_window=128,
                               final_logit_softcapping=30.0, attn_logit_softcapping=50.0, **common)
    if kind == "gemma3":
        # one sliding layer (window 4: shorter than the check's texts, so the mask matters), then a global one
        return tf.Gemma3TextConfig(num_key_value_heads=2, head_dim=16, query_pre_attn_scalar=16, sliding_window=4,
                                   layer_types=["sliding_attention", "full_attention"], final_logit_softcapping=30.0,
                                   **common)
    if kind == "phi3":
        return tf.Phi3Config(num_key_value_heads=4, tie_word_embeddings=False, original_max_position_embeddings=256,
                             resid_pdrop=0.0, embd_pdrop=0.0, attention_dropout=0.0, **common)
    if kind == "gpt2":
        return tf.GPT2Config(vocab_size=V, n_embd=H, n_layer=2, n_head=4, n_positions=256, tie_word_embeddings=True,
                             bos_token_id=0, eos_token_id=2, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    if kind == "bloom":
        return tf.BloomConfig(vocab_size=V, hidden_size=H, n_layer=2, n_head=4, tie_word_embeddings=True,
                              bos_token_id=0, eos_token_id=2, pad_token_id=3, hidden_dropout=0.0, attention_dropout=0.0)
    raise ValueError(kind)


def tiny(kind: str, seed: int = 0, tokenizer=None, **extra):
    """A random model of ``kind`` whose logits spread over several units, and the tiny byte tokenizer (or
    ``tokenizer``, whose size the model's vocabulary takes); ``extra``: more config settings."""
    from transformers import AutoModelForCausalLM

    from core.models import tiny_tokenizer

    torch.manual_seed(seed)
    vocab = len(tokenizer) if tokenizer is not None else V
    model = AutoModelForCausalLM.from_config(_config(kind, vocab, **extra), dtype=torch.float32)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 2:
                p.normal_(0, 0.1)
            elif "norm" in name or "ln" in name:
                p.uniform_(0.8, 1.2) if name.endswith("weight") else p.normal_(0, 0.05)
            else:
                p.normal_(0, 0.05)
    return model.eval(), tokenizer if tokenizer is not None else tiny_tokenizer()


def with_lora(model, **lora):
    torch.manual_seed(1)
    peft = get_peft_model(model, LoraConfig(r=lora.pop("r", 4), target_modules=lora.pop("target_modules", "all-linear"), **lora))
    with torch.no_grad():  # a non-zero update, as after training
        for name, p in peft.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.1)
    return peft.eval()


def no_leftovers(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.startswith(".")]


ARCHS = ["llama", "llama-tied", "mistral", "qwen2", "qwen3", "gemma2", "gemma3", "phi3", "gpt2", "bloom"]


@needs_llama_cpp
@pytest.mark.parametrize("kind", ARCHS)
def test_merged_gguf_of_each_architecture_runs_in_llama_cpp_like_our_model(tmp_path, kind):
    from core.gguf_export import export_gguf

    model, tok = tiny(kind)
    peft = with_lora(model)
    result = export_gguf(peft, tok, tmp_path / "m.gguf", gguf_type="f32")
    # the check inside compared every position's logits; here: what it found, and that it found something real
    assert result.max_abs_diff <= result.allowed <= 2e-3 * 30
    # greedy tokens may differ only where our top two logits are within twice the allowance (GPT-2's GELU: one near-tie)
    assert result.greedy_agreement >= 0.95 and result.tokenizer_checked
    assert (tmp_path / "m.gguf").stat().st_size == result.bytes and no_leftovers(tmp_path)


@needs_llama_cpp
@pytest.mark.parametrize("gguf_type", ["f16", "bf16", "q8_0"])
def test_each_float_type_is_checked_with_its_tolerance(tmp_path, gguf_type):
    from gguf import GGUFReader

    from core.gguf_export import TOLERANCES, export_gguf

    model, tok = tiny("llama")
    peft = with_lora(model)
    result = export_gguf(peft, tok, tmp_path / "m.gguf", gguf_type=gguf_type)
    assert result.max_abs_diff <= result.allowed
    assert result.allowed >= TOLERANCES[gguf_type][0]  # relative to max(1, largest |logit|)
    kinds = {t.tensor_type.name for t in GGUFReader(str(tmp_path / "m.gguf")).tensors if len(t.shape) == 2}
    assert kinds == {gguf_type.upper()}


@needs_llama_cpp
def test_a_wrong_mapping_fails_the_check_and_writes_nothing(tmp_path, monkeypatch):
    """Without llama's q/k rotary reshuffle the file loads but answers differently: refused, nothing left."""
    from core import gguf_arch
    from core.gguf_export import export_gguf

    model, tok = tiny("llama")
    monkeypatch.setattr(gguf_arch, "_pair_rows", lambda n_head: None)
    with pytest.raises(ExportError, match="Verification failed: the f32 GGUF in llama.cpp"):
        export_gguf(model, tok, tmp_path / "m.gguf", gguf_type="f32")
    assert list(tmp_path.iterdir()) == []


def test_unsupported_architecture_and_existing_file_are_refused(tmp_path):
    import transformers as tf

    from core.gguf_arch import GgufUnsupported, plan_for

    with pytest.raises(GgufUnsupported, match="this model's type is 'gpt_neox'"):
        plan_for(tf.GPTNeoXConfig())
    with pytest.raises(GgufUnsupported, match="rope scaling 'dynamic'"):
        plan_for(tf.LlamaConfig(rope_scaling={"rope_type": "dynamic", "factor": 2.0}))
    from core.gguf_export import _dest_file

    (tmp_path / "m.gguf").write_bytes(b"x")
    with pytest.raises(ExportError, match="already exists"):
        _dest_file(tmp_path / "m.gguf", overwrite=False)
    with pytest.raises(ExportError, match="ends in .gguf"):
        _dest_file(tmp_path / "m.bin", overwrite=False)


def test_gemma3_refusals_say_why():
    from core.gguf_arch import GgufUnsupported, plan_for

    capped, scaled = _config("gemma3"), _config("gemma3")
    capped.attn_logit_softcapping, scaled.query_pre_attn_scalar = 50.0, 32
    with pytest.raises(GgufUnsupported, match="caps attention logits \\(attn_logit_softcapping\\); llama.cpp's gemma3 does not"):
        plan_for(capped)
    with pytest.raises(GgufUnsupported, match="query_pre_attn_scalar=32 rather than its head size 16"):
        plan_for(scaled)
    assert plan_for(_config("gemma3")).hparams["attention.sliding_window_pattern"] == [True, False]


# --------------------------------------------------------------------------------------------------
# RoPE scaling: the short originals (16 positions) make each scaling change the logits at the check's positions

ROPE = {
    "linear": {"rope_type": "linear", "factor": 4.0},
    # head size 16, base 10^4: wavelengths 6.3 (ramp, between 16/4 and 16/1), 19.9 ... (divided by 8)
    "llama3": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
               "original_max_position_embeddings": 16},
    "yarn": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 16},
}


@needs_llama_cpp
@pytest.mark.parametrize("kind, scaling", [("llama", "linear"), ("llama", "llama3"), ("llama", "yarn"), ("qwen2", "yarn")])
def test_rope_scaling_is_written_so_llama_cpp_answers_like_our_model(tmp_path, kind, scaling):
    from gguf import GGUFReader

    from core.export import _check_inputs, _logits
    from core.gguf_export import export_gguf

    model, tok = tiny(kind, rope_scaling=dict(ROPE[scaling], rope_theta=10000.0))
    plain, _ = tiny(kind)  # the same weights without the scaling
    inputs = _check_inputs(model, tok)
    effect = float((_logits(model, inputs) - _logits(plain, inputs)).abs().max())
    result = export_gguf(with_lora(model), tok, tmp_path / "m.gguf", gguf_type="f32")
    assert result.max_abs_diff <= result.allowed < effect / 20  # agrees, and the scaling is far above the tolerance
    reader = GGUFReader(str(tmp_path / "m.gguf"))
    freqs = [t for t in reader.tensors if t.name == "rope_freqs.weight"]
    if scaling == "llama3":
        # (head 16 / 2,): the first frequency on the ramp, the others divided by the whole factor
        assert list(freqs[0].shape) == [8] and 1.0 < float(freqs[0].data[0]) < 8.0 and set(freqs[0].data[1:]) == {8.0}
    else:
        assert not freqs
        assert bytes(reader.fields[f"{kind}.rope.scaling.type"].parts[-1]).decode() == scaling


def test_rope_scaling_llama_cpp_cannot_express_is_refused_with_the_reason():
    import transformers as tf

    from core.gguf_arch import GgufUnsupported, plan_for

    yarn = dict(ROPE["yarn"], rope_theta=10000.0)
    with pytest.raises(GgufUnsupported, match="YaRN rope scaling sets beta_fast=8; llama.cpp's llama applies YaRN with"):
        plan_for(tf.LlamaConfig(rope_scaling=dict(yarn, beta_fast=8)))
    with pytest.raises(GgufUnsupported, match="sets attention_factor=2.0"):
        plan_for(tf.LlamaConfig(rope_scaling=dict(yarn, attention_factor=2.0)))
    with pytest.raises(GgufUnsupported, match="rope scaling 'llama3' \\(llama.cpp reads per-frequency factors only for llama"):
        plan_for(tf.Qwen2Config(rope_scaling=dict(ROPE["llama3"], rope_theta=10000.0)))


# --------------------------------------------------------------------------------------------------
# SentencePiece-style tokenizers (Llama 2, Mistral, Gemma): GGUF's "llama" tokenizer


SPM_CORPUS = ["The capital of France is Paris.", "def fibonacci(n):\n    return n if n < 2 else fibonacci(n - 1)",
              "Once upon a time, in a small village, there lived a cat.", "In 2024, 3 cats ate 15 fish... didn't they?"]


def spm_tokenizer(style: str):
    """A tiny tokenizer.json BPE with byte fallback, trained here (no download): ids 0-2 ``<unk> <s> </s>``,
    3-258 the byte tokens ``<0x00>``..``<0xFF>``, then ~140 merges. ``style``: how it turns spaces into ``▁``,
    as Llama 2 / Mistral files do (``legacy``: normalizer Prepend + Replace), as newer conversions do
    (``metaspace``: a Metaspace pre-tokenizer, prepend_scheme "first"; ``metaspace-always``: "always") or as
    Gemma does (``gemma``: Replace only, no leading ``▁``)."""
    import json

    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<unk>", "<s>", "</s>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    if style == "legacy":
        tok.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
    elif style == "gemma":
        tok.normalizer = normalizers.Replace(" ", "\u2581")
    else:
        scheme = "always" if style == "metaspace-always" else "first"
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme=scheme, split=False)
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=specials + [f"<0x{i:02X}>" for i in range(256)],
                                  show_progress=False)
    tok.train_from_iterator(SPM_CORPUS * 20, trainer)
    spec = json.loads(tok.to_str())
    spec["added_tokens"] = [a for a in spec["added_tokens"] if a["content"] in specials]  # bytes: plain vocabulary
    tok = Tokenizer.from_str(json.dumps(spec))
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse()])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")


@needs_llama_cpp
@pytest.mark.parametrize("style", ["legacy", "gemma"])
def test_sentencepiece_style_tokenizer_is_written_as_llama_tokenizer_and_splits_like_transformers(tmp_path, style, monkeypatch):
    from gguf import GGUFReader

    from core.gguf_export import export_gguf, llama_cpp_tokens

    tok = spm_tokenizer(style)
    model, _ = tiny("llama", tokenizer=tok)
    result = export_gguf(with_lora(model), tok, tmp_path / "m.gguf", gguf_type="f32")
    assert result.tokenizer_checked and result.max_abs_diff <= result.allowed  # the export's own checks passed
    fields = GGUFReader(str(tmp_path / "m.gguf")).fields
    assert bytes(fields["tokenizer.ggml.model"].parts[-1]).decode() == "llama"
    assert bool(fields["tokenizer.ggml.add_space_prefix"].parts[-1][0]) == (style != "gemma")
    texts = ("The capital of Köln", "fibonacci(n - 1) is 日本", "  two  spaces, a cat\n\nthere")
    ours = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    assert llama_cpp_tokens(tmp_path / "m.gguf", texts) == ours
    pieces = [p for ids in ours for p in tok.convert_ids_to_tokens(ids)]
    # the texts exercise merges (pieces of several characters) and byte fallback (ö, 日本 are not in the vocabulary)
    assert any(len(p) >= 3 and not p.startswith("<0x") for p in pieces) and "<0xC3>" in pieces and "<0xE6>" in pieces
    if style == "legacy":  # the scores are what makes llama.cpp join the same pairs: with equal scores it does not
        from core import gguf_export

        keys = gguf_export._spm_keys
        monkeypatch.setattr(gguf_export, "_spm_keys",
                            lambda *a: keys(*a) | {"tokenizer.ggml.scores": [0.0] * len(tok)})
        plain, _ = tiny("llama", tokenizer=tok)
        gguf_export.write_model_gguf(tmp_path / "flat.gguf", plain, dict(plain.state_dict()), tok, "f32")
        assert llama_cpp_tokens(tmp_path / "flat.gguf", texts) != ours


def test_unigram_and_other_space_handling_are_refused_with_the_reason():
    import json

    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from core.gguf_arch import GgufUnsupported
    from core.gguf_export import tokenizer_keys

    uni = Tokenizer(models.Unigram([("<unk>", 0.0), ("a", -1.0), ("b", -2.0)], unk_id=0))
    with pytest.raises(GgufUnsupported, match="this tokenizer's model is Unigram. GGUF export does not map it to "
                       "llama.cpp's tokenizers \\(Unigram: GGUF's t5\\) yet. Export the merged Hugging Face folder"):
        tokenizer_keys(PreTrainedTokenizerFast(tokenizer_object=uni, unk_token="<unk>"), 8)
    # a T5-like Unigram (Metaspace "always", splitting; byte fallback; a normalizer beyond a charsmap): each reason said
    uni = Tokenizer(models.Unigram([("<unk>", 0.0), ("a", -1.0), ("b", -2.0)], unk_id=0, byte_fallback=True))
    uni.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    uni.normalizer = normalizers.Lowercase()
    with pytest.raises(GgufUnsupported) as refused:
        tokenizer_keys(PreTrainedTokenizerFast(tokenizer_object=uni, unk_token="<unk>"), 8)
    message = str(refused.value)
    assert "llama.cpp's Unigram tokenizer (GGUF's t5) would split this one differently: it falls back to bytes" in message
    assert "its Metaspace (prepend_scheme 'always') adds '▁' only where the text does not already start" in message
    assert "its Metaspace splits the text at every '▁'" in message
    assert "its normalizer ['Lowercase'] is more than the precompiled character map" in message
    assert message.endswith("Export the merged Hugging Face folder (--merged) and serve it with a server that reads "
                            "tokenizer.json.")
    tok = spm_tokenizer("legacy")
    spec = json.loads(tok.backend_tokenizer.to_str())
    spec["normalizer"] = json.loads(normalizers.NFKC().__getstate__())  # Gemma-like files never do this
    odd = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(json.dumps(spec)), unk_token="<unk>")
    with pytest.raises(GgufUnsupported, match=r"normalizer \['NFKC'\] and pre-tokenizer None"):
        tokenizer_keys(odd, len(tok))


# A chat template of the usual shape: BOS, then each turn's text right after a role marker, closed by EOS
SPM_CHAT = ("{{ bos_token }}{% for m in messages %}[{{ m['role'] }}]: {{ m['content'] }}{{ eos_token }}{% endfor %}"
            "{% if add_generation_prompt %}[assistant]:{% endif %}")


@needs_llama_cpp
@pytest.mark.parametrize("scheme", ["first", "always"])
def test_metaspace_prepend_is_exported_with_a_warning_naming_the_text_llama_cpp_splits_differently(tmp_path, scheme,
                                                                                                  monkeypatch):
    """A Metaspace pre-tokenizer that adds ``▁`` in front does so only where the text (``always``: each piece
    between special tokens; ``first``: the input's start) does not already begin with a space. llama.cpp's
    llama tokenizer has one switch, ``add_space_prefix``, so some text is always read differently. The export
    writes the setting under which the model's chat turns and then plain text agree, passes its logits check,
    and warns which kinds of text differ, with an example each, as measured in llama.cpp.

    Then the file is written with each setting (the choice bypassed) and llama.cpp tokenizes seven texts,
    special tokens parsed as a server parses a chat prompt: the table in docs/export.md. If a llama.cpp
    version ever matches on all of them with one setting, this test fails and the warning can go."""
    from gguf import GGUFReader

    from core import gguf_export

    tok = spm_tokenizer("metaspace" if scheme == "first" else "metaspace-always")
    tok.chat_template = SPM_CHAT
    model, _ = tiny("llama", tokenizer=tok)
    result = gguf_export.export_gguf(with_lora(model), tok, tmp_path / "m.gguf", gguf_type="f32")
    assert result.tokenizer_checked and result.max_abs_diff <= result.allowed  # the export's own checks passed
    prefix = bool(GGUFReader(str(tmp_path / "m.gguf")).fields["tokenizer.ggml.add_space_prefix"].parts[-1][0])
    # "always": on agrees on plain text and on the chat turn; "first": on would add "▁" after every special
    # token of the chat turn, so off, and plain text loses its leading "▁"
    assert prefix == (scheme == "always")
    (warning,) = result.warnings
    assert warning.rstrip(".") in result.summary() and result.summary() in gguf_export.RunExport(
        "gguf", result.path, [result], gguf_export._detail(result), result.summary()).message
    assert gguf_export._detail(result)["warnings"] == [warning]
    assert f"Metaspace pre-tokenizer (prepend_scheme '{scheme}')" in warning
    assert f"add_space_prefix, written {'on' if prefix else 'off'}" in warning
    if scheme == "always":
        assert "these read the same: plain text, text after a newline, a chat turn rendered by the chat template, " \
               "text right after a special token. It differs on text that starts with a space (' Hi' → '▁▁Hi', here " \
               "'▁Hi'); text after a special token that starts with a space ('<s> Hi' → '<s>▁▁Hi', here '<s>▁Hi')." \
               in warning
        ordinary = (gguf_export._PLAIN, "The capital of France is Paris.", gguf_export._AFTER_NEWLINE)
    else:
        assert "these read the same: a chat turn rendered by the chat template, text that starts with a space, " \
               "text right after a special token, text after a special token that starts with a space. It differs " \
               "on plain text ('Hi there' → 'Hi▁there', here '▁Hi▁there'); text after a newline ('Hi,\\nthere' → " \
               "'Hi,\\nthere', here '▁Hi,\\nthere')." in warning
        ordinary = ("<s>The capital of France is Paris.",)
    chat = tok.apply_chat_template([{"role": "user", "content": "Hello, tell me about Paris."},
                                    {"role": "assistant", "content": "It is the capital of France."},
                                    {"role": "user", "content": "And Köln?"}], tokenize=False, add_generation_prompt=True)
    texts = (chat,) + ordinary
    assert gguf_export.llama_cpp_tokens(tmp_path / "m.gguf", texts, special=True) == \
        [tok(t, add_special_tokens=False)["input_ids"] for t in texts]

    texts = ("Hi there", " Hi there", "  two  spaces", "<s>Hi", "<s> Hi", "a</s>b", "Köln 日本")
    ours = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    agree = {}
    model, _ = tiny("llama", tokenizer=tok)  # without the adapter with_lora put into the other
    for on in (True, False):
        monkeypatch.setattr(gguf_export, "_choose_space_prefix", lambda tokenizer, scheme, on=on: on)
        path = tmp_path / f"prefix-{on}.gguf"
        gguf_export.write_model_gguf(path, model, dict(model.state_dict()), tok, "f32")
        got = gguf_export.llama_cpp_tokens(path, texts, special=True)
        agree[on] = {t for t, a, b in zip(texts, got, ours) if a == b}
        # the pure prediction the choice rests on says the same as llama.cpp for every text
        assert agree[on] == {t for t in texts if gguf_export._text_agrees(tok, scheme, on, t)}
    # on: an extra "▁" where the text starts with a space (and, "first", after special tokens)
    differ_on = {" Hi there", "  two  spaces", "<s> Hi"} | ({"<s>Hi", "a</s>b"} if scheme == "first" else set())
    # off: no "▁" at the start of plain text (and, "always", none after special tokens)
    differ_off = {"Hi there", "Köln 日本"} | ({"a</s>b"} if scheme == "first" else {"<s>Hi", "a</s>b"})
    assert agree[True] == set(texts) - differ_on
    assert agree[False] == set(texts) - differ_off


# --------------------------------------------------------------------------------------------------
# Adapters


@needs_llama_cpp
def test_adapter_gguf_with_rslora_and_per_module_rank_and_alpha_is_exact_in_llama_cpp(tmp_path, monkeypatch):
    """llama.cpp scales each pair by alpha_file / r; rsLoRA and the patterns are baked into lora_b. With the
    factor left out, the same file misses the tight f32 tolerance (so the baking is what makes it pass)."""
    from core import gguf_export
    from core.gguf_export import export_gguf_adapter

    model, tok = tiny("llama")
    peft = with_lora(model, r=4, lora_alpha=16, use_rslora=True, rank_pattern={"v_proj": 8}, alpha_pattern={"o_proj": 3})
    layer = peft.get_base_model().model.layers[0].self_attn
    assert layer.v_proj.r["default"] == 8 and layer.o_proj.scaling["default"] == pytest.approx(3 / math.sqrt(4))
    result = export_gguf_adapter(peft, tmp_path / "a.gguf", tokenizer=tok)
    assert result.max_abs_diff <= result.allowed and result.kind == "gguf-adapter"
    with torch.no_grad(), peft.disable_adapter():
        base = peft(input_ids=torch.tensor([[5, 6, 7, 8]])).logits
    assert float((base - peft(input_ids=torch.tensor([[5, 6, 7, 8]])).logits).abs().max()) > 50 * result.allowed
    monkeypatch.setattr(gguf_export, "_baked_factor", lambda layer, adapter, alpha: 1.0)
    with pytest.raises(ExportError, match="Verification failed"):
        export_gguf_adapter(peft, tmp_path / "b.gguf", tokenizer=tok)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.gguf"]


@needs_llama_cpp
@pytest.mark.parametrize("kind", ["gpt2", "bloom", "qwen2", "gemma3"])
def test_adapter_gguf_on_other_architectures(tmp_path, kind):
    from core.gguf_export import export_gguf_adapter

    model, tok = tiny(kind)
    peft = with_lora(model)
    result = export_gguf_adapter(peft, tmp_path / "a.gguf", tokenizer=tok)
    assert result.max_abs_diff <= result.allowed


@pytest.mark.parametrize(
    "lora, words",
    [
        (dict(use_dora=True), "DoRA rescales each output by a learned magnitude"),
        (dict(modules_to_save=["lm_head"]), "modules_to_save (lm_head) are full trained copies"),
        (dict(bias="lora_only"), "trains biases (bias='lora_only')"),
    ],
)
def test_adapter_gguf_refusals_say_why_and_offer_merged(tmp_path, lora, words):
    from core.gguf_export import export_gguf_adapter

    model, tok = tiny("llama")
    peft = with_lora(model, **lora)
    with pytest.raises(ExportError) as info:
        export_gguf_adapter(peft, tmp_path / "a.gguf", tokenizer=tok)
    assert words in str(info.value) and "Export a merged GGUF instead" in str(info.value)
    assert info.value.kind == "export" and list(tmp_path.iterdir()) == []


def test_non_lora_methods_are_offered_merged_only(tmp_path):
    from core import IA3Config, PromptTuningConfig
    from core.gguf_export import export_gguf, export_gguf_adapter

    model, tok = tiny("llama")
    ia3 = get_peft_model(model, IA3Config(target_modules=["k_proj", "down_proj"], feedforward_modules=["down_proj"]))
    with pytest.raises(ExportError, match="llama.cpp loads LoRA adapters only; this is a IA³ adapter. Export a merged GGUF instead."):
        export_gguf_adapter(ia3, tmp_path / "a.gguf", tokenizer=tok)
    model, tok = tiny("llama")
    prompt = get_peft_model(model, PromptTuningConfig(num_virtual_tokens=4, task_type="CAUSAL_LM"))
    with pytest.raises(ExportError, match="It cannot be merged either, so llama.cpp cannot run it"):
        export_gguf_adapter(prompt, tmp_path / "a.gguf", tokenizer=tok)
    with pytest.raises(ExportError, match="a merged GGUF is not possible"):
        export_gguf(prompt, tok, tmp_path / "m.gguf")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------------
# SmolLM2-135M-Instruct: the embedded default model, and its own GGUF as the adapter's base


@pytest.fixture(scope="module")
def smollm2():
    from core.models import load_model

    model, tok = load_model("smollm2-135m-instruct")
    torch.manual_seed(0)
    peft = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules="all-linear"))
    with torch.no_grad():
        for name, p in peft.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
    return peft.eval(), tok


@needs_llama_cpp
@pytest.mark.slow
@pytest.mark.parametrize("gguf_type", ["f16", "q8_0", "Q4_K_M"])
def test_smollm2_merged_gguf_agrees_with_our_model_in_llama_cpp(tmp_path, smollm2, gguf_type):
    from core.gguf_export import export_gguf

    peft, tok = smollm2
    result = export_gguf(peft, tok, tmp_path / "m.gguf", gguf_type=gguf_type)
    # Greedy agreement over the check's 15 positions: exact in f16; q8_0's rounding (logits within its tolerance)
    # may flip one near-tie of this random adapter (measured 14/15 on 2026-12-07, 15/15 earlier); Q4_K_M's top token.
    assert result.tokenizer_checked and result.greedy_agreement >= {"f16": 1.0, "q8_0": 0.9, "Q4_K_M": 0.7}[gguf_type]
    print(f"SmolLM2 {gguf_type}: {result.bytes / 2**20:.1f} MiB, max diff {result.max_abs_diff:.3g} "
          f"(allowed {result.allowed:.3g}), greedy {result.greedy_agreement:.0%}")


@needs_llama_cpp
@pytest.mark.slow
def test_smollm2_adapter_gguf_on_the_embedded_base_gguf_matches_our_model(tmp_path, smollm2):
    from core.gguf_export import base_gguf_for, export_gguf_adapter

    peft, tok = smollm2
    base = base_gguf_for("smollm2-135m-instruct")
    assert base is not None and base.name.endswith(".Q4_1.gguf")
    result = export_gguf_adapter(peft, tmp_path / "a.gguf", base_gguf=base, tokenizer=tok)
    assert result.max_abs_diff <= result.allowed and result.base_gguf == str(base)  # the q8_0 tolerance
    ids = torch.tensor([tok("The capital of France is")["input_ids"]])
    with torch.no_grad():
        with peft.disable_adapter():
            without = peft(input_ids=ids).logits
        effect = float((peft(input_ids=ids).logits - without).abs().max())
    # On the Q4_1 base llama.cpp rounds activations to 8 bits, which moves the logits about as much as this
    # random adapter does; on an f32 base GGUF of the same weights the adapter must be exact (f32 tolerance),
    # far below its effect, with the same q/k reshuffle of lora_b.
    exact = export_gguf_adapter(peft, tmp_path / "b.gguf", tokenizer=tok)
    print(f"SmolLM2 adapter on {base.name}: max diff {result.max_abs_diff:.3g} (allowed {result.allowed:.3g}); on an "
          f"f32 base: {exact.max_abs_diff:.3g} (allowed {exact.allowed:.3g}); the adapter's effect {effect:.3g}")
    assert exact.max_abs_diff * 20 < effect


def test_smollm2_adapter_config_names_the_hub_id(tmp_path):
    import json

    from core.models import load_model

    model, _ = load_model("smollm2-135m-instruct")
    peft = get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj"]))
    peft.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "adapter_config.json").read_text())["base_model_name_or_path"] == \
        "HuggingFaceTB/SmolLM2-135M-Instruct"



# --------------------------------------------------------------------------------------------------
# The command line: a project trained for two steps, exported three ways and recorded


@needs_llama_cpp
def test_cli_exports_gguf_adapter_gguf_and_ollama_and_records_them(tmp_path, capsys, monkeypatch):
    import io
    import json
    import stat

    from core import worker
    from core.cli import main
    from core.store import Project

    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"{i}+1=", "completion": f" {i + 1}"}) + "\n" for i in range(24)))
    assert main(["new", str(tmp_path / "p"), "--model", "tiny-llama", "--targets", "q_proj,k_proj,v_proj",
                 "--dataset", str(data), "--set", "max_length=64", "--set", "r=4", "--set", "max_steps=2",
                 "--set", "eval_steps=0"]) == 0
    path = tmp_path / "p.adapterstudio"
    with Project.open(path) as proj:
        run_id = proj.create_run()
    assert worker.run_job(path, run_id, out=io.StringIO()) == worker.EXIT_OK
    capsys.readouterr()
    assert main(["export", str(path), "--gguf", str(tmp_path / "m.gguf"), "--gguf-type", "q8_0"]) == 0
    out = capsys.readouterr().out
    assert "q8_0 gguf: checked in llama.cpp, largest logit difference" in out and "tokenizes the check texts as we do" in out
    assert main(["export", str(path), "--gguf-adapter", str(tmp_path / "a.gguf")]) == 0
    assert "gguf-adapter: checked in llama.cpp" in capsys.readouterr().out
    # a stand-in ollama on PATH records what it was asked
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "ollama").write_text(f"#!/bin/sh\necho \"$@\" > {tmp_path / 'ollama-args'}\necho success\n")
    (bindir / "ollama").chmod(0o755 | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    assert main(["export", str(path), "--ollama", str(tmp_path / "o"), "--ollama-name", "capitals", "--ollama-adapter"]) == 0
    out = capsys.readouterr().out
    assert "Created the Ollama model capitals: ollama run capitals" in out
    assert (tmp_path / "ollama-args").read_text().split() == ["create", "capitals", "-f", "Modelfile"]
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["Modelfile", "adapter.gguf", "model.gguf"]
    assert (tmp_path / "o" / "Modelfile").read_text().startswith("FROM ./model.gguf\nADAPTER ./adapter.gguf\nTEMPLATE")
    assert main(["export", str(path), "--gguf", str(tmp_path / "m.gguf")]) == 2  # never overwrites
    assert "already exists" in capsys.readouterr().err
    with Project.open(path) as proj:
        exports = proj.exports()
    assert [(e["kind"], e["path"].name, e["verified"], e["detail"].get("gguf_type")) for e in exports] == [
        ("gguf", "m.gguf", True, "q8_0"), ("gguf-adapter", "a.gguf", True, "f32"), ("ollama", "o", True, None)]
    assert exports[2]["detail"]["checks"][0]["checked_by"] == "llama.cpp"
    assert main(["runs", str(path)]) == 0  # the runs list shows every export
    listed = capsys.readouterr().out.split("exports:\n")[1].splitlines()
    assert [line.split()[2:4] for line in listed] == [["gguf", "q8_0"], ["gguf-adapter", "f32"], ["ollama", str(tmp_path / "o")]]
    assert all(line.endswith("checked in llama.cpp") for line in listed)


@needs_llama_cpp
def test_an_adapter_checked_on_the_wrong_base_fails_without_taking_the_process_down(tmp_path):
    """llama.cpp refuses the pair (architecture mismatch) and llama-cpp-python then crashes; the check runs in
    a child process, so the export fails with the reason and this process goes on."""
    from core.gguf_export import export_gguf, export_gguf_adapter

    model, tok = tiny("gpt2")
    export_gguf(model, tok, tmp_path / "gpt2.gguf", gguf_type="f32")
    peft = with_lora(tiny("llama")[0])
    with pytest.raises(ExportError, match=r"Verification failed: llama.cpp (crashed|failed).* on gpt2.gguf with the adapter"):
        export_gguf_adapter(peft, tmp_path / "a.gguf", base_gguf=tmp_path / "gpt2.gguf", tokenizer=tok)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gpt2.gguf"]
