"""Results out as GGUF: a merged model for llama.cpp (and Ollama, LM Studio), or a LoRA adapter GGUF
that llama.cpp applies to its base at load time (``--lora``, ``Llama(lora_path=...)``). Verified by
llama.cpp itself before the file is put in place.

- `export_gguf`: the base model with the active adapter merged in (or a plain model) in ``f32``,
  ``f16``, ``bf16``, ``q8_0`` (written here with the ``gguf`` package) or a k-quant such as
  ``Q4_K_M`` (``f16`` written here, then requantized by llama.cpp's own quantizer). The mapping of
  Hugging Face names and layouts onto llama.cpp's is `core.gguf_arch`; the tokenizer (byte-level BPE:
  tokens, token types, merges, pre-tokenizer, special ids; or SentencePiece-style BPE with byte
  fallback as GGUF's "llama" tokenizer: tokens, scores, token types, special ids) and chat template are
  written from the model's own tokenizer.
- `export_gguf_adapter`: a LoRA adapter as ``<gguf tensor>.weight.lora_a`` ``(r, in)`` and ``.lora_b``
  ``(out, r)`` pairs plus ``adapter.lora.alpha``. llama.cpp scales every pair by ``alpha / r`` with
  ``r`` read from that pair's shape and one alpha per file; rsLoRA (``alpha / sqrt(r)``) and
  per-module alpha/rank are baked into ``lora_b`` so that ``alpha_file / r_m · B'_m = s_m · B_m``
  exactly (`_baked_factor`). What llama.cpp cannot express is refused (`adapter_refusals`).

The check (`verify`): the written file is loaded by ``llama_cpp.Llama`` (``logits_all``), fixed
prompts are evaluated token by token, and every position's next-token logits are compared with our
model's on the same token ids; the greedy (arg-max) token must agree wherever our top two logits are
further apart than the allowed difference, and llama.cpp must tokenize the check texts exactly as our
tokenizer does. Each type has its tolerance (`TOLERANCES`, relative to the largest logit); 4-bit
k-quants are judged by greedy agreement. A file that fails is deleted; the destination is untouched.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from core.errors import ExportError
from core.export import CHECK_TEXTS, ExportResult, _check_inputs, _logits, _plain_state_dict, is_mergeable
from core.gguf_arch import ADAPTER_TYPES, GGUF_TYPES, K_QUANTS, GgufUnsupported, Plan, plan_for

_log = logging.getLogger(__name__)


# Tolerances, measured (docs/export.md): the largest next-token logit difference allowed, as a fraction
# of max(1, largest |logit|), and the share of positions whose greedy token must agree with ours.
# Measured 2026-12-07 on SmolLM2-135M-Instruct with a LoRA on all linear layers (largest |logit| ~36):
# f16 2.2e-3, q8_0 5.0e-2 of the scale, Q4_K_M greedy agreement 80 % (its 576-wide rows are not whole
# 256-blocks, so llama.cpp falls back to other types for most matrices).
TOLERANCES: dict[str, tuple[float, float]] = {
    "f32": (2e-3, 1.0),
    "f16": (1e-2, 1.0),
    "bf16": (6e-2, 1.0),
    "q8_0": (8e-2, 1.0),
    "Q6_K": (0.2, 0.85),
    "Q5_K_M": (0.3, 0.8),
    "Q4_K_M": (0.5, 0.7),
}
# Extra texts for the tokenizer check: digits, punctuation runs, newlines, accents and other scripts.
TOKENIZER_TEXTS = CHECK_TEXTS + (
    "In 2024, 3 cats ate 15 fish... didn't they?\n\n  Indented line\tand a tab",
    "Ça va? Grüße aus Köln — naïve café; 日本語のテキスト 🙂",
)

Progress = Callable[[float, str], None]


@dataclass
class GgufResult(ExportResult):
    """`ExportResult` of a GGUF export, with what llama.cpp's check found."""

    gguf_type: str = ""
    allowed: float = 0.0
    """The largest logit difference the type allows (absolute)."""
    greedy_agreement: float = 1.0
    """Share of checked positions whose greedy next token is the same in llama.cpp and here."""
    tokenizer_checked: bool = False
    base_gguf: str | None = None
    """For an adapter: the base GGUF it was checked on."""
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    """For a person: what the file does differently from our model though the check passed (e.g. text that
    llama.cpp's tokenizer splits differently)."""

    def summary(self) -> str:
        what = f"{self.gguf_type} {self.kind}"
        base = f" on {Path(self.base_gguf).name}" if self.base_gguf else ""
        return (f"{what}{base}: checked in llama.cpp, largest logit difference {self.max_abs_diff:.3g} (allowed "
                f"{self.allowed:.3g}), greedy tokens agree at {self.greedy_agreement:.0%} of positions"
                + ("; llama.cpp tokenizes the check texts as we do" if self.tokenizer_checked else "")
                + "".join(f". Warning: {w.rstrip('.')}" for w in self.warnings))


# --------------------------------------------------------------------------------------------------
# llama.cpp


def llama_cpp_available() -> str | None:
    """None when ``llama_cpp`` (llama-cpp-python) imports; else why not, for a person."""
    try:
        import llama_cpp  # noqa: F401
    except Exception as exc:  # noqa: BLE001  (ImportError, or a shared library that fails to load)
        return (f"llama-cpp-python is not importable ({type(exc).__name__}: {exc}); it checks every GGUF export. "
                "Install it: pip install llama-cpp-python (it builds llama.cpp; `./run.sh test` does this once).")
    return None


def _require_llama_cpp() -> Any:
    reason = llama_cpp_available()
    if reason:
        raise ExportError(reason)
    import llama_cpp

    return llama_cpp


@contextlib.contextmanager
def _llama(model_path: Path, *, lora: Path | None = None, n_ctx: int = 256, vocab_only: bool = False) -> Iterator[Any]:
    llama_cpp = _require_llama_cpp()
    # The KV cache in float32 (llama.cpp's default is f16): the check measures the file, not the cache's rounding.
    # Measured 2026-12-07 on the tiny f32 models: llama 1.9e-3 -> 2e-6, gemma2 1.6e-2 -> 2.8e-3 of logits ~7.
    f32 = int(getattr(llama_cpp, "GGML_TYPE_F32", 0))
    kwargs: dict[str, Any] = dict(model_path=str(model_path), n_ctx=n_ctx, n_batch=n_ctx, logits_all=True,
                                  n_threads=max(1, min(4, os.cpu_count() or 1)), n_gpu_layers=0, verbose=False,
                                  vocab_only=vocab_only, type_k=f32, type_v=f32)
    if lora is not None:
        kwargs["lora_path"] = str(lora)
    try:
        llm = llama_cpp.Llama(**kwargs)
    except Exception as exc:  # noqa: BLE001  llama.cpp reports a load failure as ValueError/RuntimeError
        what = f"{model_path.name} with the adapter {lora.name}" if lora else model_path.name
        raise ExportError(f"Verification failed: llama.cpp could not load {what} ({exc}); nothing was written.") from None
    try:
        yield llm
    finally:
        with contextlib.suppress(Exception):
            llm.close()
        del llm
        gc.collect()


def llama_cpp_logits(model_path: Path, input_ids: torch.Tensor, *, lora: Path | None = None) -> torch.Tensor:
    """llama.cpp's next-token logits ``(n, T, V)`` for each row of ``input_ids (n, T)``, evaluated from an
    empty cache (no BOS added: the same ids as ours). Runs in a child process (`_in_child`)."""
    import numpy as np

    with _scratch(model_path) as out:
        _in_child({"op": "logits", "model": str(model_path), "lora": str(lora) if lora else None,
                   "ids": input_ids.tolist(), "out": str(out)}, model_path, lora)
        return torch.from_numpy(np.load(out)).float()


def llama_cpp_tokens(model_path: Path, texts: tuple[str, ...], *, special: bool = False) -> list[list[int]]:
    """llama.cpp's ids for ``texts`` (no BOS); ``special``: special tokens written in the text are read as
    those tokens, as llama.cpp's server and Ollama read a rendered chat prompt."""
    with _scratch(model_path) as out:
        _in_child({"op": "tokens", "model": str(model_path), "texts": list(texts), "out": str(out), "special": special},
                  model_path, None)
        return json.loads(out.read_text())


@contextlib.contextmanager
def _scratch(beside: Path) -> Iterator[Path]:
    path = beside.with_name(f".{beside.stem}.check-{os.getpid()}-{time.monotonic_ns()}.out")
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _in_child(job: dict[str, Any], model_path: Path, lora: Path | None) -> None:
    """Run a llama.cpp job in a child Python (`_child_main`): llama.cpp aborts or crashes the whole process
    on some malformed files (llama-cpp-python 0.3.36 goes on after a failed adapter load and then segfaults),
    and a crash must fail the export, not take the window or the command line down with it. A frozen
    bundle has no ``python -c``: there the job runs in this process."""
    import subprocess
    import sys

    if getattr(sys, "frozen", False):
        _child_job(job)
        return
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": root + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else "")}
    code = "import json, sys; from core.gguf_export import _child_job; _child_job(json.loads(sys.stdin.read()))"
    proc = subprocess.run([sys.executable, "-c", code], input=json.dumps(job), capture_output=True, text=True, env=env,
                          timeout=1800)
    if proc.returncode != 0:
        what = f"{model_path.name} with the adapter {lora.name}" if lora else model_path.name
        last = [line for line in proc.stderr.strip().splitlines() if line.strip()][-3:]
        how = f"crashed (signal {-proc.returncode})" if proc.returncode < 0 else f"failed (exit {proc.returncode})"
        raise ExportError(f"Verification failed: llama.cpp {how} on {what}: {' / '.join(last) or 'no message'}; "
                          "nothing was written.")


def _child_job(job: dict[str, Any]) -> None:
    import numpy as np

    out = Path(job["out"])
    if job["op"] == "logits":
        ids = job["ids"]
        lora = Path(job["lora"]) if job.get("lora") else None
        rows = []
        with _llama(Path(job["model"]), lora=lora, n_ctx=max(64, max(len(r) for r in ids) + 8)) as llm:
            if lora is not None and getattr(llm, "_lora_adapter", 1) is None:
                raise ExportError(f"llama.cpp did not load the adapter {lora.name}")
            for row in ids:
                llm.reset()
                llm.eval(row)
                rows.append(np.array(llm.scores[: len(row)], dtype=np.float32))  # (T, V)
        with open(out, "wb") as f:
            np.save(f, np.stack(rows))
    elif job["op"] == "tokens":
        with _llama(Path(job["model"]), vocab_only=True) as llm:
            out.write_text(json.dumps([llm.tokenize(t.encode("utf-8"), add_bos=False, special=bool(job.get("special")))
                                        for t in job["texts"]]))
    else:
        raise ValueError(job["op"])


@dataclass
class Check:
    max_abs_diff: float
    allowed: float
    greedy_agreement: float
    tokenizer_checked: bool


def compare(reference: torch.Tensor, got: torch.Tensor, gguf_type: str, what: str) -> Check:
    """Compare next-token logits ``(n, T, V)``; `ExportError` saying what differed when over the type's tolerance."""
    rel, need_agree = TOLERANCES[gguf_type]
    scale = max(1.0, float(reference.abs().max()))
    allowed = rel * scale
    if got.shape != reference.shape:
        raise ExportError(f"Verification failed: {what} gives logits of shape {tuple(got.shape)} where our model gives "
                          f"{tuple(reference.shape)} (a vocabulary mismatch); nothing was written.")
    diff = float((reference - got).abs().max())
    top2 = reference.topk(2, dim=-1).values  # (n, T, 2)
    clear = (top2[..., 0] - top2[..., 1]) > 2 * allowed  # positions where a faithful file cannot flip the winner
    same = reference.argmax(-1) == got.argmax(-1)
    agreement = float(same.float().mean())
    if need_agree >= 1.0:
        if not bool(same[clear].all()):
            bad = int((~same & clear).sum())
            raise ExportError(
                f"Verification failed: {what} picks a different greedy next token at {bad} position(s) where our model's "
                f"choice is clear; nothing was written.")
        if not diff <= allowed:
            raise ExportError(
                f"Verification failed: {what} differs from our model by up to {diff:.3g} in the next-token logits "
                f"(allowed for {gguf_type}: {allowed:.3g}); nothing was written. Try a wider type (f16 or f32), or "
                "report this as a bug.")
    elif agreement < need_agree:
        raise ExportError(
            f"Verification failed: {what} agrees with our model's greedy next token at {agreement:.0%} of positions "
            f"(required for {gguf_type}: {need_agree:.0%}); nothing was written. Use q8_0 or f16.")
    return Check(diff, allowed, agreement, False)


def check_tokenizer(path: Path, tokenizer: Any) -> list[str]:
    """llama.cpp must split `TOKENIZER_TEXTS` into the same ids as ``tokenizer``. Returns warnings for a person:
    for a Metaspace that prepends "▁", the kinds of text llama.cpp reads differently (`space_prefix_differences`)."""
    scheme = _tokenizer_metaspace(tokenizer)
    prefix = _written_space_prefix(path) if scheme in ("first", "always") else None
    texts = TOKENIZER_TEXTS
    if prefix is not None:
        # The merges and byte fallback are checked on every text: where only the leading "▁" is known to
        # differ (measured and reported below), llama.cpp gets the text with that space added or taken away.
        texts = tuple(t if _piece_agrees(scheme, prefix, True, t[:1] == " ") else
                      (t[1:] if prefix else " " + t) for t in TOKENIZER_TEXTS)
    theirs = llama_cpp_tokens(path, texts)
    for text, got in zip(TOKENIZER_TEXTS, theirs):
        ours = tokenizer(text, add_special_tokens=False)["input_ids"]
        if list(got) != list(ours):
            at = next((i for i, (a, b) in enumerate(zip(got, ours)) if a != b), min(len(got), len(ours)))
            raise ExportError(
                f"Verification failed: llama.cpp tokenizes {text[:40]!r} differently from the model's tokenizer (from "
                f"token {at}: llama.cpp {list(got)[at:at + 4]}, ours {list(ours)[at:at + 4]}); the GGUF would read "
                "prompts differently, so nothing was written.")
    return [] if prefix is None else space_prefix_differences(path, tokenizer, scheme, prefix)


def _written_space_prefix(path: Path) -> bool:
    from gguf import GGUFReader

    field_ = GGUFReader(str(path)).fields.get("tokenizer.ggml.add_space_prefix")
    return bool(field_.parts[-1][0]) if field_ is not None else True


def _shown(tokenizer: Any, ids: list[int]) -> str:
    """The pieces of ``ids`` as one quoted string, byte tokens ``<0xXX>`` read back as their characters:
    ``'▁▁Hi'``, where the "▁" llama.cpp adds or leaves out is what a person needs to see."""
    text, pending = "", b""
    for piece in tokenizer.convert_ids_to_tokens(ids):
        if len(piece) == 6 and piece.startswith("<0x") and piece.endswith(">"):
            pending += bytes([int(piece[3:5], 16)])
            continue
        text += pending.decode("utf-8", "replace") + piece
        pending = b""
    return repr(text + pending.decode("utf-8", "replace"))


def space_prefix_differences(path: Path, tokenizer: Any, scheme: str, prefix: bool) -> list[str]:
    """Tokenize `space_prefix_probes` in llama.cpp, special tokens parsed as a server parses a chat prompt,
    and say which kinds it splits differently, one example each. A kind that should agree and does not is
    a wrong file: `ExportError`. Empty when every kind agrees."""
    probes = space_prefix_probes(tokenizer)
    theirs = llama_cpp_tokens(path, tuple(t for _, t in probes), special=True)
    differ: list[str] = []
    agree: list[str] = []
    for (kind, text), got in zip(probes, theirs):
        ours = tokenizer(text, add_special_tokens=False)["input_ids"]
        if list(got) == list(ours):
            agree.append(kind)
            continue
        if _text_agrees(tokenizer, scheme, prefix, text):
            raise ExportError(f"Verification failed: llama.cpp tokenizes {kind} ({text[:40]!r}) differently from the "
                              f"model's tokenizer ({_shown(tokenizer, got)}, ours {_shown(tokenizer, ours)}); the GGUF "
                              "would read prompts differently, so nothing was written.")
        at, end, cut = 0, None, ""
        if len(text) > 12:  # a rendered chat turn: the tokens around the first difference only
            at = max(0, next((i for i, (a, b) in enumerate(zip(got, ours)) if a != b), min(len(got), len(ours))) - 1)
            end, cut = at + 4, "…"
        differ.append(f"{kind} ({text[:12]!r}{cut} → {_shown(tokenizer, got[at:end])}{cut}, here "
                      f"{_shown(tokenizer, ours[at:end])}{cut})")
    if not differ:
        return []
    return [f"llama.cpp splits some text differently from this tokenizer: its Metaspace pre-tokenizer (prepend_scheme "
            f"{scheme!r}) adds '▁' in front only where the text does not start with a space"
            + (" (and only at the input's start, not after special tokens)" if scheme == "first" else "")
            + f", and llama.cpp has one switch for it, add_space_prefix, written {'on' if prefix else 'off'} here so "
            f"that these read the same: {', '.join(agree)}. It differs on " + "; ".join(differ)
            + ". Prompts of those kinds get a different first token in llama.cpp and Ollama; for exact tokenization "
            "serve the merged Hugging Face folder (--merged)."]


# --------------------------------------------------------------------------------------------------
# Tokenizer -> GGUF keys

# The pre-tokenizer regexes of tokenizer.json files llama.cpp knows by name (its ``tokenizer.ggml.pre``).
_LLAMA3_RE = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
_QWEN2_RE = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
_BLOOM_RE = " ?[^(\\s|[.,!?…。，、।۔،])]+"

_TOKEN_NORMAL, _TOKEN_CONTROL, _TOKEN_USER, _TOKEN_UNUSED = 1, 3, 4, 5


def _pre_signature(pre: dict[str, Any] | None) -> tuple:
    steps = pre.get("pretokenizers", []) if pre and pre.get("type") == "Sequence" else ([pre] if pre else [])
    sig: list[tuple] = []
    for s in steps:
        kind = s.get("type")
        if kind == "ByteLevel":
            sig.append(("ByteLevel", bool(s.get("use_regex", True)), bool(s.get("add_prefix_space", False))))
        elif kind == "Digits":
            sig.append(("Digits", bool(s.get("individual_digits", False))))
        elif kind == "Split":
            pattern = s.get("pattern", {})
            sig.append(("Split", pattern.get("Regex") or pattern.get("String")))
        else:
            sig.append((kind,))
    return tuple(sig)


_PRE_NAMES: dict[tuple, str] = {
    (("ByteLevel", True, False),): "gpt-2",
    (("Digits", True), ("ByteLevel", True, False)): "smollm",
    (("Split", _LLAMA3_RE), ("ByteLevel", False, False)): "llama-bpe",
    (("Split", _QWEN2_RE), ("ByteLevel", False, False)): "qwen2",
    (("Split", _BLOOM_RE), ("ByteLevel", False, False)): "bloom",
}


def tokenizer_keys(tokenizer: Any, vocab_size: int) -> dict[str, Any]:
    """The ``tokenizer.ggml.*`` keys and ``tokenizer.chat_template`` for a byte-level BPE tokenizer (GGUF's
    "gpt2" tokenizer model), or for a SentencePiece-style BPE with byte fallback (`_spm_keys`).

    ``tokens[i]`` is id ``i``'s token text (ids the tokenizer lacks up to the model's ``vocab_size`` are
    ``[PAD<i>]``, unused); special added tokens are *control* tokens, other added tokens *user-defined*
    (matched as raw text), the rest *normal*."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise GgufUnsupported("GGUF export needs the model's fast tokenizer (tokenizer.json); this one is a slow "
                              f"{type(tokenizer).__name__}.")
    spec = json.loads(backend.to_str())
    model = spec.get("model", {})
    if model.get("type") == "BPE" and model.get("byte_fallback"):
        return _spm_keys(tokenizer, spec, vocab_size)
    if model.get("type") != "BPE":
        why = _unigram_differences(spec) if model.get("type") == "Unigram" else []
        raise GgufUnsupported(
            f"GGUF export writes BPE tokenizers: byte-level (GPT-2, Llama 3, Qwen, SmolLM style) or SentencePiece-style "
            f"with byte fallback (Llama 2, Mistral, Gemma); this tokenizer's model is {model.get('type')}. "
            + ("llama.cpp's Unigram tokenizer (GGUF's t5) would split this one differently: " + " ".join(why) + " "
               if why else "GGUF export does not map it to llama.cpp's tokenizers (Unigram: GGUF's t5) yet. ")
            + "Export the merged Hugging Face folder (--merged) and serve it with a server that reads tokenizer.json.")
    signature = _pre_signature(spec.get("pre_tokenizer"))
    pre = _PRE_NAMES.get(signature)
    if pre is None:
        raise GgufUnsupported(
            f"This tokenizer splits text with a pre-tokenizer llama.cpp does not know by name ({signature}); the "
            "GGUF would read prompts differently. Export the merged Hugging Face folder instead.")
    if spec.get("normalizer") not in (None, {}):
        raise GgufUnsupported(f"This tokenizer normalizes text first ({spec['normalizer'].get('type')}); llama.cpp's "
                              "byte-level BPE does not, so the GGUF would read prompts differently.")
    vocab: dict[str, int] = tokenizer.get_vocab()
    top = max(vocab.values())
    if top >= vocab_size:
        raise GgufUnsupported(f"The tokenizer has token id {top} but the model has only {vocab_size} embeddings; "
                              "resize the embeddings (or use the matching tokenizer) before exporting.")
    tokens = [f"[PAD{i}]" for i in range(vocab_size)]
    types = [_TOKEN_UNUSED] * vocab_size
    for text, i in vocab.items():
        tokens[i], types[i] = text, _TOKEN_NORMAL
    for i, added in tokenizer.added_tokens_decoder.items():
        if i < vocab_size:
            tokens[i], types[i] = added.content, (_TOKEN_CONTROL if added.special else _TOKEN_USER)
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    keys: dict[str, Any] = {
        "tokenizer.ggml.model": "gpt2",
        "tokenizer.ggml.pre": pre,
        "tokenizer.ggml.tokens": tokens,
        "tokenizer.ggml.token_type": types,
        "tokenizer.ggml.merges": merges,
    }
    keys.update(_special_keys(tokenizer, vocab_size, add_space_prefix=False))
    return keys


def _special_keys(tokenizer: Any, vocab_size: int, *, add_space_prefix: bool) -> dict[str, Any]:
    """Special ids, whether a prompt starts with BOS / ends with EOS, the space prefix and the chat template."""
    keys: dict[str, Any] = {}
    for key, attr in (("bos", "bos_token_id"), ("eos", "eos_token_id"), ("unknown", "unk_token_id"),
                      ("padding", "pad_token_id")):
        value = getattr(tokenizer, attr, None)
        if isinstance(value, int) and 0 <= value < vocab_size:
            keys[f"tokenizer.ggml.{key}_token_id"] = value
    probe = tokenizer("a")["input_ids"]
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    bos, eos = getattr(tokenizer, "bos_token_id", None), getattr(tokenizer, "eos_token_id", None)
    keys["tokenizer.ggml.add_bos_token"] = bool(bos is not None and probe[:1] == [bos] and plain[:1] != [bos])
    keys["tokenizer.ggml.add_eos_token"] = bool(eos is not None and probe[-1:] == [eos] and plain[-1:] != [eos])
    keys["tokenizer.ggml.add_space_prefix"] = add_space_prefix
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, dict):
        template = template.get("default") or next(iter(template.values()), None)
    if isinstance(template, str) and template:
        keys["tokenizer.chat_template"] = template
    return keys


_SPACE = "\u2581"  # ▁, SentencePiece's visible space
_TOKEN_UNKNOWN, _TOKEN_BYTE = 2, 6


def _spm_space_handling(spec: dict[str, Any], tokenizer: Any = None) -> bool:
    """Whether a SentencePiece-style tokenizer.json puts ``▁`` before the text (llama.cpp's
    ``add_space_prefix``); `GgufUnsupported` unless it replaces spaces by ``▁`` in one of the two ways Llama 2,
    Mistral and Gemma tokenizers are written and otherwise leaves the text whole (llama.cpp's "llama"
    tokenizer does exactly that: optional leading space, spaces -> ``▁``, then merges over the whole text).

    - normalizer ``Replace(" ", "▁")``, optionally after ``Prepend("▁")``; no pre-tokenizer;
    - no normalizer; pre-tokenizer ``Metaspace(replacement="▁", split=False)``: with prepend_scheme "never"
      exactly; with "first" or "always" the setting of `_choose_space_prefix`, which llama.cpp cannot match on
      every text (the export's check says where, `space_prefix_differences`).
    """
    norm, pre = spec.get("normalizer"), spec.get("pre_tokenizer")
    steps = (norm.get("normalizers", []) if norm and norm.get("type") == "Sequence" else [norm]) if norm else []
    kinds = [s.get("type") for s in steps]

    def replaces_space(s: dict[str, Any]) -> bool:
        return s.get("type") == "Replace" and s.get("pattern", {}).get("String") == " " and s.get("content") == _SPACE

    if pre is None and steps and replaces_space(steps[-1]):
        if kinds == ["Replace"]:
            return False
        if kinds == ["Prepend", "Replace"] and steps[0].get("prepend") == _SPACE:
            return True
    scheme = _metaspace_prepend(spec)
    if scheme == "never":
        return False
    if scheme is not None:
        return _choose_space_prefix(tokenizer, scheme)
    raise GgufUnsupported(
        f"This SentencePiece-style tokenizer prepares text with normalizer {kinds or None} and pre-tokenizer "
        f"{(pre or {}).get('type')}; llama.cpp's llama tokenizer only replaces spaces by '▁' (optionally adding one "
        "in front), so the GGUF would read prompts differently. Export the merged Hugging Face folder instead.")


def _metaspace_prepend(spec: dict[str, Any]) -> str | None:
    """The prepend_scheme of a tokenizer.json whose only text preparation is a whole-text (``split=False``)
    ``Metaspace(replacement="▁")`` pre-tokenizer; None for any other form."""
    norm, pre = spec.get("normalizer"), spec.get("pre_tokenizer")
    if norm or not pre or pre.get("type") != "Metaspace" or pre.get("replacement") != _SPACE or pre.get("split", True):
        return None
    return pre.get("prepend_scheme", "always" if pre.get("add_prefix_space", True) else "never")


def _tokenizer_metaspace(tokenizer: Any) -> str | None:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    spec = json.loads(backend.to_str())
    model = spec.get("model", {})
    return _metaspace_prepend(spec) if model.get("type") == "BPE" and model.get("byte_fallback") else None


def _specials(tokenizer: Any) -> list[str]:
    """The special tokens as they are written in a prompt (llama.cpp parses them as control tokens)."""
    found = {a.content for a in getattr(tokenizer, "added_tokens_decoder", {}).values() if a.special}
    return sorted(found, key=len, reverse=True)


def _pieces(tokenizer: Any, text: str) -> list[tuple[bool, bool]]:
    """``text`` cut at its special tokens, as llama.cpp and transformers both cut it: for each piece of
    plain text, (whether it is the input's start, whether it starts with a space)."""
    specials = _specials(tokenizer)
    parts = re.split("(" + "|".join(re.escape(t) for t in specials) + ")", text) if specials else [text]
    out, at = [], 0
    for part in parts:
        if part and part not in specials:
            out.append((at == 0, part[0] in (" ", _SPACE)))
        at += len(part)
    return out


def _piece_agrees(scheme: str, prefix: bool, at_start: bool, leading_space: bool) -> bool:
    """Metaspace adds "▁" to a piece that does not start with one: every piece ("always") or only the one at
    the input's start ("first"). llama.cpp, with add_space_prefix on, adds one to every piece — at the start
    and after each special token — whatever it starts with (llama-vocab.cpp, the SPM branch of tokenize); off,
    to none. After that both replace spaces by "▁" and merge the same way, so a piece agrees iff both add one
    or neither does."""
    ours = not leading_space and (scheme == "always" or at_start)
    return ours == prefix


def _text_agrees(tokenizer: Any, scheme: str, prefix: bool, text: str) -> bool:
    return all(_piece_agrees(scheme, prefix, *piece) for piece in _pieces(tokenizer, text))


def _chat_turn(tokenizer: Any) -> str | None:
    """A user turn rendered by the tokenizer's own chat template, as Ollama and llama.cpp's chat endpoints
    send it; None without a template (or one that fails to render)."""
    if not getattr(tokenizer, "chat_template", None):
        return None
    try:
        return tokenizer.apply_chat_template([{"role": "user", "content": "Hi there, how are you?"}], tokenize=False,
                                             add_generation_prompt=True)
    except Exception:  # a template that needs other messages or variables: judged on plain text alone
        return None


_PLAIN = "Hi there"
_AFTER_NEWLINE = "Hi,\nthere"


def _choose_space_prefix(tokenizer: Any, scheme: str) -> bool:
    """The add_space_prefix setting for a Metaspace that prepends (``scheme`` "first" or "always"): the one
    under which the commonest prompts read the same. First the chat turn the model's own template renders
    (what Ollama and llama.cpp's chat endpoints send a chat model), then plain text and text after a newline;
    on a tie on, as llama.cpp's converter writes SentencePiece models."""
    chat = _chat_turn(tokenizer) if tokenizer is not None else None

    def score(prefix: bool) -> tuple[bool, int, bool]:
        chat_ok = chat is None or _text_agrees(tokenizer, scheme, prefix, chat)
        plain_ok = sum(_piece_agrees(scheme, prefix, True, False) for _ in (_PLAIN, _AFTER_NEWLINE))
        return chat_ok, plain_ok, prefix

    return max((True, False), key=score)


def space_prefix_probes(tokenizer: Any) -> list[tuple[str, str]]:
    """(kind, example text) for each shape of text whose start a Metaspace and llama.cpp may read
    differently; the export's check tokenizes each in llama.cpp (special tokens parsed, as a server does)."""
    special = next((t for t in (getattr(tokenizer, "bos_token", None), getattr(tokenizer, "eos_token", None))
                    if isinstance(t, str) and t), None) or next(iter(_specials(tokenizer)), None)
    probes = [("plain text", _PLAIN), ("text after a newline", _AFTER_NEWLINE)]
    chat = _chat_turn(tokenizer)
    if chat is not None:
        probes.append(("a chat turn rendered by the chat template", chat))
    probes.append(("text that starts with a space", " Hi"))
    if special:
        probes += [("text right after a special token", f"{special}Hi"),
                   ("text after a special token that starts with a space", f"{special} Hi")]
    return probes


def _unigram_differences(spec: dict[str, Any]) -> list[str]:
    """Where llama.cpp's Unigram tokenizer (GGUF ``t5``, llama-vocab.cpp's UGM: Viterbi over token scores on
    the whole text, spaces to ``▁``, optionally ``▁`` added before the first non-space character of each
    piece between special tokens, the normalizer only as a precompiled SentencePiece charsmap) would split
    the text differently from this tokenizer.json Unigram model. Each difference is said so that the
    refusal names this tokenizer's own reasons."""
    why: list[str] = []
    if spec["model"].get("byte_fallback"):
        why.append("it falls back to bytes for characters outside the vocabulary, where llama.cpp's gives one <unk>.")
    pre = spec.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", []) if pre.get("type") == "Sequence" else [pre] if pre else []
    for step in steps:
        if step.get("type") == "Metaspace":
            scheme = step.get("prepend_scheme", "always" if step.get("add_prefix_space", True) else "never")
            if scheme != "never":
                why.append(f"its Metaspace (prepend_scheme {scheme!r}) adds '▁' only where the text does not already "
                           "start with a space; llama.cpp's adds it before the first non-space character either way.")
            if step.get("split", True):
                why.append("its Metaspace splits the text at every '▁' before choosing tokens; llama.cpp's chooses "
                           "over the whole text.")
        else:
            why.append(f"its pre-tokenizer {step.get('type')} has no counterpart in llama.cpp's.")
    norm = spec.get("normalizer") or {}
    kinds = [n.get("type") for n in (norm.get("normalizers", []) if norm.get("type") == "Sequence" else [norm] if norm else [])]
    if [k for k in kinds if k != "Precompiled"]:
        why.append(f"its normalizer {kinds} is more than the precompiled character map llama.cpp's applies.")
    return why


def _spm_keys(tokenizer: Any, spec: dict[str, Any], vocab_size: int) -> dict[str, Any]:
    """GGUF's "llama" (SentencePiece) tokenizer for a tokenizer.json BPE model with byte fallback.

    llama.cpp splits the text into characters and repeatedly joins the adjacent pair whose joined text is a
    token with the highest *score*; a character missing from the vocabulary becomes its UTF-8 bytes
    ``<0xXX>``. Hugging Face's BPE joins the pair of the earliest *merge rule*. Scoring each token by minus
    the rank of the merge that makes it (``score(a+b) = -rank("a b")``) makes the two pick the same pairs in
    the same order; tokens no merge makes (characters, bytes, specials) are never a pair's join, and get
    the lowest score so a stray one is never preferred. The export's tokenizer check confirms it per model."""
    model = spec["model"]
    vocab: dict[str, int] = tokenizer.get_vocab()
    top = max(vocab.values())
    if top >= vocab_size:
        raise GgufUnsupported(f"The tokenizer has token id {top} but the model has only {vocab_size} embeddings; "
                              "resize the embeddings (or use the matching tokenizer) before exporting.")
    add_space_prefix = _spm_space_handling(spec, tokenizer)
    missing = [f"<0x{b:02X}>" for b in range(256) if f"<0x{b:02X}>" not in vocab]
    if missing:
        raise GgufUnsupported(f"This tokenizer falls back to bytes but lacks the byte tokens {', '.join(missing[:4])}"
                              f"{' ...' if len(missing) > 4 else ''}; llama.cpp's llama tokenizer needs all 256.")
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    unmerged = -float(len(merges) + 1)
    rank: dict[str, float] = {}
    for i, merge in enumerate(merges):
        left, _, right = merge.partition(" ")
        rank.setdefault(left + right, -float(i))
    tokens = [f"[PAD{i}]" for i in range(vocab_size)]
    scores = [unmerged] * vocab_size
    types = [_TOKEN_UNUSED] * vocab_size
    unk = getattr(tokenizer, "unk_token_id", None)
    for text, i in vocab.items():
        tokens[i], scores[i] = text, rank.get(text, unmerged)
        is_byte = len(text) == 6 and text.startswith("<0x") and text.endswith(">")
        types[i] = _TOKEN_BYTE if is_byte else _TOKEN_UNKNOWN if i == unk else _TOKEN_NORMAL
    for i, added in tokenizer.added_tokens_decoder.items():
        if i < vocab_size and i != unk:
            tokens[i], types[i] = added.content, (_TOKEN_CONTROL if added.special else _TOKEN_USER)
    keys: dict[str, Any] = {
        "tokenizer.ggml.model": "llama",
        "tokenizer.ggml.tokens": tokens,
        "tokenizer.ggml.scores": scores,
        "tokenizer.ggml.token_type": types,
    }
    keys.update(_special_keys(tokenizer, vocab_size, add_space_prefix=add_space_prefix))
    return keys


# --------------------------------------------------------------------------------------------------
# Writing


def _writer_value(writer: Any, key: str, value: Any) -> None:
    from gguf import GGUFValueType

    if isinstance(value, bool):
        writer.add_bool(key, value)
    elif isinstance(value, int):
        writer.add_uint32(key, value)
    elif isinstance(value, float):
        writer.add_float32(key, value)
    elif isinstance(value, str):
        writer.add_string(key, value)
    elif isinstance(value, list):
        if key.endswith("token_type"):
            sub = GGUFValueType.INT32
        elif value and isinstance(value[0], bool):
            sub = GGUFValueType.BOOL  # e.g. gemma3.attention.sliding_window_pattern, one per layer
        elif value and isinstance(value[0], float):
            sub = GGUFValueType.FLOAT32
        else:
            sub = GGUFValueType.STRING
        # add_key_value, not add_array: an empty list (a tokenizer without merges) must still be written
        writer.add_key_value(key, value, GGUFValueType.ARRAY, sub_type=sub)
    else:
        raise TypeError(f"{key}: cannot write {type(value).__name__} to GGUF")


def _writer(path: Path, arch: str) -> Any:
    """A ``gguf.GGUFWriter`` that also writes empty arrays (the format allows them; llama.cpp requires the
    merges key of a BPE tokenizer even when, like the tiny models' byte tokenizer, it has no merges)."""
    import gguf

    class Writer(gguf.GGUFWriter):
        def _pack_val(self, val: Any, vtype: Any, add_vtype: bool, sub_type: Any = None) -> bytes:
            if vtype == gguf.GGUFValueType.ARRAY and sub_type is not None and len(val) == 0:
                # u32 value type (ARRAY) if asked, u32 element type, u64 count 0
                return (self._pack("I", vtype) if add_vtype else b"") + self._pack("I", sub_type) + self._pack("Q", 0)
            return super()._pack_val(val, vtype, add_vtype, sub_type)

    return Writer(str(path), arch)


def _file_type(gguf_type: str) -> int:
    from gguf import LlamaFileType

    return {"f32": LlamaFileType.ALL_F32, "f16": LlamaFileType.MOSTLY_F16, "bf16": LlamaFileType.MOSTLY_BF16,
            "q8_0": LlamaFileType.MOSTLY_Q8_0}[gguf_type]


def _encode(t: torch.Tensor, gguf_type: str) -> tuple[Any, Any]:
    """``t`` (float32, GGUF layout) as the array the writer stores and its raw GGML type (None: numpy's own).

    1-D tensors (norms, biases) stay float32, as llama.cpp expects; a matrix whose rows are not a whole
    number of q8_0 blocks (32) is written f16 instead."""
    from gguf import GGMLQuantizationType, quants

    if t.dim() < 2 or gguf_type == "f32":
        return t.float().numpy(), None
    if gguf_type == "f16" or (gguf_type == "q8_0" and t.shape[-1] % 32):
        return t.to(torch.float16).numpy(), None
    if gguf_type == "bf16":
        # bfloat16 bits (round to nearest even, as torch converts) viewed as bytes (rows, 2·cols)
        return t.to(torch.bfloat16).view(torch.int16).numpy().view("uint8"), GGMLQuantizationType.BF16
    if gguf_type == "q8_0":
        return quants.quantize(t.float().numpy(), GGMLQuantizationType.Q8_0), GGMLQuantizationType.Q8_0
    raise ValueError(gguf_type)


def model_name(model: Any) -> str:
    ref = str(getattr(model, "name_or_path", "") or getattr(getattr(model, "config", None), "_name_or_path", "") or "")
    return Path(ref).name or getattr(model.config, "model_type", "model")


def _safe_name(name: str, tokens: list[str]) -> str:
    """``general.name``, unless llama.cpp would read it as a quirk: a model named phi-3/phi3 gets special
    handling of the tokens ``</s> <unk> <s> <|endoftext|>`` and fails to load when one is missing."""
    if any(k in name.lower() for k in ("phi-3", "phi3")) and not {"</s>", "<unk>", "<s>", "<|endoftext|>"} <= set(tokens):
        return "model"
    return name


def write_model_gguf(path: Path, model: torch.nn.Module, state: dict[str, torch.Tensor], tokenizer: Any,
                     gguf_type: str, *, plan: Plan | None = None, name: str | None = None,
                     progress: Progress | None = None) -> list[str]:
    """Write ``state`` (plain Hugging Face names -> tensors) of ``model`` as a GGUF model file at ``path``.
    Returns notes (tensors written in another type). Tensors are converted one at a time, then written."""
    import gguf

    config = model.config
    plan = plan or plan_for(config)
    writer = _writer(path, plan.arch)
    notes: list[str] = []
    try:
        writer.add_type("model")
        vocab = tokenizer_keys(tokenizer, int(config.vocab_size))
        writer.add_name(_safe_name(name or model_name(model), vocab["tokenizer.ggml.tokens"]))
        writer.add_file_type(_file_type(gguf_type))
        if gguf_type == "q8_0":
            writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
        for key, value in plan.hparams.items():
            _writer_value(writer, f"{plan.arch}.{key}", value)
        for key, value in vocab.items():
            _writer_value(writer, key, value)
        embed = next((t for k, t in state.items() if (m := plan.map(k)) is not None and m.name == "token_embd.weight"), None)
        items = list(state.items())
        for i, (hf_name, tensor) in enumerate(items):
            target = plan.map(hf_name)
            if target is None:
                continue
            if target.name == "output.weight" and embed is not None and (tensor is embed or torch.equal(tensor, embed)):
                continue  # tied: llama.cpp uses token_embd for the output when output.weight is absent
            data = target.full(tensor.detach().cpu())
            array, raw = _encode(data, gguf_type)
            if gguf_type == "q8_0" and data.dim() == 2 and raw is None:
                notes.append(f"{target.name} written f16 (rows of {data.shape[-1]} are not whole q8_0 blocks)")
            writer.add_tensor(target.name, array, raw_dtype=raw)
            if progress:
                progress(0.1 + 0.5 * (i + 1) / len(items), f"converting {hf_name}")
        for gguf_name, values in plan.extra.items():  # e.g. rope_freqs.weight (d/2,): always float32, like norms
            writer.add_tensor(gguf_name, torch.tensor(values, dtype=torch.float32).numpy())
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    finally:
        writer.close()
    return notes


# --------------------------------------------------------------------------------------------------
# Merged model


def _dest_file(dest: str | os.PathLike[str], overwrite: bool) -> Path:
    dest = Path(dest).expanduser().absolute()
    if dest.suffix.lower() != ".gguf":
        raise ExportError(f"{dest.name}: a GGUF file name ends in .gguf.")
    if dest.is_dir():
        raise ExportError(f"{dest} is a folder; give a file name ending in .gguf.")
    if dest.exists() and not overwrite:
        raise ExportError(f"{dest} already exists; choose another file name or allow overwriting.")
    dest.parent.mkdir(parents=True, exist_ok=True)
    return dest


def _tmp_beside(dest: Path, tag: str = "tmp") -> Path:
    return dest.with_name(f".{dest.stem}.{tag}-{os.getpid()}-{time.monotonic_ns()}.gguf")


def _k_quantize(src: Path, dst: Path, kind: str) -> None:
    """Requantize ``src`` (f16/f32 GGUF) to the k-quant ``kind`` with llama.cpp's own quantizer."""
    llama_cpp = _require_llama_cpp()
    ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{kind.upper()}", None)
    if ftype is None:
        raise ExportError(f"This llama.cpp build has no {kind} quantization.")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = max(1, min(4, os.cpu_count() or 1))
    import ctypes

    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params))
    if rc != 0 or not dst.is_file():
        raise ExportError(f"llama.cpp's quantizer could not write {kind} (code {rc}); nothing was written.")


def _finish_file(tmp: Path, dest: Path) -> int:
    size = tmp.stat().st_size
    os.replace(tmp, dest)
    return size


def export_gguf(model: Any, tokenizer: Any, dest: str | os.PathLike[str], *, gguf_type: str = "f16",
                overwrite: bool = False, name: str | None = None, progress: Progress | None = None,
                merge: bool = True) -> GgufResult:
    """Write ``model`` — a `PeftModel` (its active adapter merged in) or a plain model — as one GGUF file
    ``dest`` of ``gguf_type``, checked in llama.cpp against ``model`` (see the module docstring).
    ``merge=False`` writes a `PeftModel`'s base without the adapter (the base an adapter GGUF runs on).
    The live adapter model is unchanged afterwards (up to float rounding of merge + unmerge)."""
    if gguf_type not in GGUF_TYPES:
        raise ExportError(f"GGUF type {gguf_type!r} is not one of {', '.join(GGUF_TYPES)}.")
    peft = model if hasattr(model, "get_base_model") and hasattr(model, "peft_config") else None
    if peft is not None and merge and not is_mergeable(peft):
        name_ = str(getattr(peft.peft_type, "value", peft.peft_type))
        raise ExportError(f"A {name_} adapter cannot be merged into the weights (it adds virtual tokens or attention "
                          "prefixes), and llama.cpp has no form for it; a merged GGUF is not possible.")
    _require_llama_cpp()
    base = peft.get_base_model() if peft is not None else model
    plan = plan_for(base.config)  # refuse an unknown architecture before any work
    tokenizer_keys(tokenizer, int(base.config.vocab_size))  # ... and a tokenizer llama.cpp cannot read
    dest = _dest_file(dest, overwrite)
    say = progress or (lambda f, m: None)
    say(0.0, "computing our model's logits")
    inputs = _check_inputs(model, tokenizer)
    with peft.disable_adapter() if peft is not None and not merge else contextlib.nullcontext():
        reference = _logits(model, inputs)  # (n, T, V) before any merge
    written = _tmp_beside(dest)
    staged: list[Path] = [written]
    try:
        first_type = "f16" if gguf_type in K_QUANTS else gguf_type
        say(0.1, f"writing {first_type}")
        with _merged(peft if merge else None):
            state = _plain_state_dict(base, peft.active_adapter) if peft is not None else dict(base.state_dict())
            notes = write_model_gguf(written, base, state, tokenizer, first_type, plan=plan, name=name, progress=say)
            del state
        final = written
        if gguf_type in K_QUANTS:
            say(0.65, f"quantizing to {gguf_type} with llama.cpp")
            final = _tmp_beside(dest, "q")
            staged.append(final)
            _k_quantize(written, final, gguf_type)
        say(0.75, "checking the file in llama.cpp")
        check = compare(reference, llama_cpp_logits(final, inputs["input_ids"]), gguf_type, f"the {gguf_type} GGUF in llama.cpp")
        warnings = check_tokenizer(final, tokenizer)
        size = _finish_file(final, dest)
        say(1.0, "done")
        return GgufResult(str(dest), "gguf", check.max_abs_diff, [dest.name], size, gguf_type=gguf_type,
                          allowed=check.allowed, greedy_agreement=check.greedy_agreement, tokenizer_checked=True,
                          notes=notes, warnings=warnings)
    finally:
        for p in staged:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()


@contextlib.contextmanager
def _merged(peft: Any) -> Iterator[None]:
    if peft is None:
        yield
        return
    peft.merge_adapter(safe_merge=True)
    try:
        yield
    finally:
        peft.unmerge_adapter()


# --------------------------------------------------------------------------------------------------
# LoRA adapter


def adapter_refusals(peft: Any) -> list[str]:
    """Why the active adapter cannot be a llama.cpp LoRA GGUF (empty: it can). Each reason says what to do."""
    kind = str(getattr(peft.peft_type, "value", peft.peft_type))
    if kind != "LORA":
        from core.methods import catalog

        label = catalog.label(kind)
        merged = "Export a merged GGUF instead." if is_mergeable(peft) else "It cannot be merged either, so llama.cpp cannot run it."
        return [f"llama.cpp loads LoRA adapters only; this is a {label} adapter. {merged}"]
    config = peft.active_peft_config
    out: list[str] = []
    if config.use_dora:
        out.append("DoRA rescales each output by a learned magnitude, which a llama.cpp LoRA adapter cannot express. "
                   "Export a merged GGUF instead.")
    if config.modules_to_save:
        out.append(f"modules_to_save ({', '.join(config.modules_to_save)}) are full trained copies of those modules, not "
                   "low-rank updates; a llama.cpp LoRA adapter cannot carry them. Export a merged GGUF instead.")
    if getattr(config, "trainable_token_indices", None):
        out.append("The adapter trains rows of the embedding (trainable_token_indices); a llama.cpp LoRA adapter holds "
                   "only A/B pairs. Export a merged GGUF instead.")
    if config.bias != "none":
        out.append(f"The adapter trains biases (bias={config.bias!r}); a llama.cpp LoRA adapter holds only A/B pairs. "
                   "Export a merged GGUF instead.")
    init = config.init_lora_weights
    if isinstance(init, str) and init.startswith("pissa"):
        out.append("A PiSSA adapter was trained on the residual of the base weights, not the base itself; on the "
                   "original base GGUF it would answer differently. Export a merged GGUF instead.")
    for path, layer in peft.base_model.adapter_layers():
        if getattr(layer, "kind", None) == "embedding" and peft.active_adapter in getattr(layer, "lora_embedding_A", {}):
            out.append(f"{path} is an embedding with a LoRA update; this export writes LoRA pairs for linear layers "
                       "only. Export a merged GGUF instead.")
            break
    return out


def _baked_factor(layer: Any, adapter: str, file_alpha: float) -> float:
    """What ``lora_b`` is multiplied by so llama.cpp's ``file_alpha / r`` gives this module's own scale
    ``s`` (alpha_m / r_m, or alpha_m / sqrt(r_m) with rsLoRA): ``s · r / file_alpha`` (1 for plain LoRA)."""
    r, s = layer.r[adapter], layer.scaling[adapter]
    return s * r / file_alpha


def export_gguf_adapter(peft: Any, dest: str | os.PathLike[str], *, base_gguf: str | os.PathLike[str] | None = None,
                        tokenizer: Any = None, adapter_type: str = "f32", overwrite: bool = False,
                        progress: Progress | None = None) -> GgufResult:
    """Write the active LoRA adapter as a llama.cpp LoRA GGUF at ``dest``, checked in llama.cpp on
    ``base_gguf`` (the base model's GGUF; when None an f32 GGUF of the live base is written beside
    ``dest`` for the check and removed). Refused with the reasons of `adapter_refusals`."""
    import gguf

    reasons = adapter_refusals(peft)
    if reasons:
        raise ExportError("This adapter cannot be written as a llama.cpp LoRA GGUF: " + " ".join(reasons))
    if adapter_type not in ADAPTER_TYPES:
        raise ExportError(f"Adapter GGUF type {adapter_type!r} is not one of {', '.join(ADAPTER_TYPES)}.")
    _require_llama_cpp()
    base = peft.get_base_model()
    plan = plan_for(base.config)
    dest = _dest_file(dest, overwrite)
    say = progress or (lambda f, m: None)
    adapter = peft.active_adapter
    config = peft.active_peft_config
    file_alpha = float(config.lora_alpha) or float(config.r)
    say(0.0, "computing our model's logits")
    inputs = _check_inputs(peft, tokenizer)
    reference = _logits(peft, inputs)
    tmp = _tmp_beside(dest)
    staged = [tmp]
    try:
        writer = _writer(tmp, plan.arch)
        try:
            writer.add_type("adapter")
            writer.add_string("adapter.type", "lora")
            writer.add_float32("adapter.lora.alpha", file_alpha)
            writer.add_name(f"{model_name(base)} LoRA")
            pairs = 0
            for path, layer in peft.base_model.adapter_layers():
                if adapter not in getattr(layer, "lora_A", {}):
                    continue
                target = plan.map(f"{path}.weight")
                if target is None:
                    raise ExportError(f"{path} has a LoRA update but llama.cpp's {plan.arch} has no such weight.")
                if plan.tied and target.name == "output.weight":
                    raise ExportError(f"{path} (the output head) shares its weight with the embedding in this model; "
                                      "llama.cpp ignores a LoRA on a tied output. Export a merged GGUF instead.")
                A = layer.lora_A[adapter].weight.detach().float().cpu()  # (r, in)
                B = layer.lora_B[adapter].weight.detach().float().cpu()  # (out, r)
                B = B * _baked_factor(layer, adapter, file_alpha)
                if target.rows is not None:
                    B = target.rows(B)  # the base weight's rows are reshuffled; ΔW = B A follows B's rows
                for suffix, t in (("lora_a", A), ("lora_b", B)):
                    arr = t.contiguous().numpy() if adapter_type == "f32" else t.to(torch.float16).numpy()
                    writer.add_tensor(f"{target.name}.{suffix}", arr)  # blk.N.attn_q.weight.lora_a
                pairs += 1
            if not pairs:
                raise ExportError("The adapter has no LoRA pairs on linear layers; there is nothing to write.")
            writer.write_header_to_file()
            writer.write_kv_data_to_file()
            writer.write_tensors_to_file()
        finally:
            writer.close()
        if base_gguf is None:
            say(0.4, "writing an f32 base GGUF for the check")
            base_path = _tmp_beside(dest, "base")
            staged.append(base_path)
            state = _plain_state_dict(base, adapter)  # unmerged: the original base weights under plain names
            if tokenizer is None:
                raise ExportError("Checking an adapter GGUF without a base GGUF needs the model's tokenizer.")
            write_model_gguf(base_path, base, state, tokenizer, "f32", plan=plan)
            del state
            base_type = "f32"
        else:
            base_path = Path(base_gguf)
            base_type = _gguf_tolerance_type(base_path)
        say(0.7, "checking the adapter on its base in llama.cpp")
        got = llama_cpp_logits(base_path, inputs["input_ids"], lora=tmp)
        check = compare(reference, got, base_type, f"llama.cpp with {base_path.name} + this adapter")
        size = _finish_file(tmp, dest)
        say(1.0, "done")
        return GgufResult(str(dest), "gguf-adapter", check.max_abs_diff, [dest.name], size, gguf_type=adapter_type,
                          allowed=check.allowed, greedy_agreement=check.greedy_agreement,
                          base_gguf=None if base_gguf is None else str(base_gguf))
    finally:
        for p in staged:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()


def _gguf_tolerance_type(path: Path) -> str:
    """The tolerance a base GGUF allows: by the widest-error type among its matrices (q8_0 for 4/5/8-bit
    block types, whose activations llama.cpp rounds to 8 bits)."""
    from gguf import GGUFReader

    kinds = {t.tensor_type.name for t in GGUFReader(str(path)).tensors if len(t.shape) == 2}
    if kinds <= {"F32"}:
        return "f32"
    if kinds <= {"F32", "F16"}:
        return "f16"
    if kinds <= {"F32", "F16", "BF16"}:
        return "bf16"
    if kinds <= {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1"}:
        return "q8_0"
    return "Q4_K_M"


def base_gguf_for(model_ref: str) -> Path | None:
    """The GGUF file a model reference was loaded from (the embedded SmolLM2 or a .gguf path), if any:
    the base an adapter GGUF is checked on and shipped with."""
    from core import models

    if model_ref == getattr(models, "_SMOLLM2", None):
        return models._smollm2_gguf()
    path = Path(str(model_ref)).expanduser()
    if path.suffix.lower() == ".gguf" and path.is_file():
        return path
    return None



# --------------------------------------------------------------------------------------------------
# A run's checkpoint, for the command line and the window


@dataclass
class RunExport:
    """What `export_checkpoint` wrote: the project records ``kind``, ``path`` and ``detail``."""

    kind: str
    """``gguf``, ``gguf-adapter`` or ``ollama``."""
    path: str
    results: list[GgufResult]
    detail: dict[str, Any]
    message: str
    """For a person: what was written and how the check went."""
    ollama_command: list[str] | None = None


def export_checkpoint(model_ref: str, checkpoint: Path, dest: str | os.PathLike[str], *, target: str,
                      gguf_type: str = "f16", ollama_name: str | None = None, ollama_adapter: bool = False,
                      overwrite: bool = False, progress: Progress | None = None) -> RunExport:
    """Load the base model and a checkpoint's adapter, then write ``target``: ``gguf`` (a merged GGUF file
    ``dest`` of ``gguf_type``), ``gguf-adapter`` (a LoRA GGUF file ``dest``, checked on the model's own GGUF
    where it came from one, e.g. the embedded SmolLM2, else on an f32 GGUF of the base) or ``ollama`` (a
    folder ``dest`` with the merged GGUF — or, with ``ollama_adapter``, the base GGUF plus the adapter GGUF —
    and a Modelfile; ``ollama create`` runs when ``ollama_name`` is given and ollama is on PATH)."""
    # Imported here: these load torch and transformers, which the window keeps off its GUI thread.
    import shutil

    from core import ollama
    from core.models import load_model
    from core.peft_model import PeftModel
    from core.runs import adapter_folder

    say = progress or (lambda f, m: None)
    say(0.0, "loading the model and the adapter")
    model, tokenizer = load_model(model_ref)
    peft = PeftModel.from_pretrained(model, adapter_folder(checkpoint))
    base_gguf = base_gguf_for(model_ref)
    if target == "gguf":
        r = export_gguf(peft, tokenizer, dest, gguf_type=gguf_type, overwrite=overwrite, progress=say)
        return RunExport("gguf", r.path, [r], _detail(r), f"Wrote {r.path} ({r.bytes / 2**20:.1f} MiB); {r.summary()}.")
    if target == "gguf-adapter":
        r = export_gguf_adapter(peft, dest, base_gguf=base_gguf, tokenizer=tokenizer, overwrite=overwrite, progress=say)
        return RunExport("gguf-adapter", r.path, [r], _detail(r), f"Wrote {r.path} ({r.bytes / 2**20:.2f} MiB); {r.summary()}.")
    if target != "ollama":
        raise ExportError(f"Unknown export target {target!r}.")
    folder = Path(dest).expanduser().absolute()
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())) and not overwrite:
        raise ExportError(f"{folder} already exists and is not empty; choose a new folder.")
    folder.mkdir(parents=True, exist_ok=True)
    results: list[GgufResult] = []
    try:
        if ollama_adapter:
            r = export_gguf_adapter(peft, folder / "adapter.gguf", base_gguf=base_gguf, tokenizer=tokenizer,
                                    overwrite=True, progress=say)
            results.append(r)
            if base_gguf is not None:
                shutil.copy2(base_gguf, folder / "model.gguf")
            else:
                say(0.8, f"writing the base model as {gguf_type} GGUF")
                results.append(export_gguf(peft, tokenizer, folder / "model.gguf", gguf_type=gguf_type,
                                           overwrite=True, merge=False))
            written = ollama.write_folder(folder, tokenizer, model_gguf=folder / "model.gguf",
                                          adapter_gguf=folder / "adapter.gguf")
        else:
            r = export_gguf(peft, tokenizer, folder / "model.gguf", gguf_type=gguf_type, overwrite=True, progress=say)
            results.append(r)
            written = ollama.write_folder(folder, tokenizer, model_gguf=folder / "model.gguf")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    lines = [f"Wrote the Ollama folder {folder} ({', '.join(written.files)}); " + "; ".join(r.summary() for r in results) + "."]
    lines += written.notes
    command = written.create_command(ollama_name or "NAME")
    if ollama_name and ollama.ollama_on_path():
        say(0.95, f"ollama create {ollama_name}")
        lines.append(ollama.create(folder, ollama_name))
        lines.append(f"Created the Ollama model {ollama_name}: ollama run {ollama_name}")
    else:
        lines.append("To add it to Ollama: " + " ".join(command))
    detail = {"files": written.files, "chat_format": written.chat_format, "checks": [_detail(r) for r in results],
              "ollama_name": ollama_name}
    return RunExport("ollama", str(folder), results, detail, "\n".join(lines), command)


def _detail(r: GgufResult) -> dict[str, Any]:
    return {"gguf_type": r.gguf_type, "max_abs_diff": r.max_abs_diff, "allowed": r.allowed,
            "greedy_agreement": r.greedy_agreement, "bytes": r.bytes, "base_gguf": r.base_gguf,
            "checked_by": "llama.cpp", "warnings": r.warnings}
