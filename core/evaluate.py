"""Does the model do the task? Task metrics on answers, greedy generations for the evaluation prompts, scores.

Torch-free at import (the window and ``adapter-studio --help`` import it); torch is imported inside
the functions that generate.

The metrics compare a model's answer with the reference answer, each a fraction in [0, 1]:

- ``exact_match``: equal after `normalize` (case, runs of whitespace, trailing punctuation);
- ``contains``: the normalised reference appears inside the normalised answer;
- ``f1``: token F1 (the bag-of-words overlap of SQuAD's scoring) over `words`;
- ``rouge_l``: ROUGE-L F-measure (β = 1) from the longest common subsequence of `words` (our own code,
  no package).

The evaluation prompts come from examples formatted exactly as training formats them (`core.data`:
chat template or plain ``prompt + separator``): the prompt is every token before the first trained
token, the reference is the first run of trained tokens. So a score measures what training taught.
Examples whose every token is trained (``train_on='all'``, the ``text`` format) have no prompt and
are left out of generation.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.data import IGNORE, DataConfig, Example, detect_format, read_records, record_segments, tokenize_segments

METRICS = ("exact_match", "contains", "f1", "rouge_l")
"""The task metrics, in the order tables show them (the keys of `score` and `summarize`)."""
METRIC_LABELS = {"exact_match": "exact match", "contains": "contains", "f1": "token F1", "rouge_l": "ROUGE-L"}

# Text that ends an answer in the templates we meet: generation is cut at the first one.
END_MARKERS = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "</s>")
_TRAILING = re.compile(r"[\s.,;:!?。！？，；：…'\"”’)\]]+$")
_WORD = re.compile(r"\w+", re.UNICODE)


# --------------------------------------------------------------------------------------------------
# Metrics on strings


def normalize(text: str) -> str:
    """Lower case, Unicode NFKC, whitespace runs as one space, no leading/trailing space or trailing
    punctuation: ``"  The capital is  Remedok. "`` -> ``"the capital is remedok"``."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = " ".join(text.split())
    return _TRAILING.sub("", text)


def words(text: str) -> list[str]:
    """The normalised text's word tokens (letters, digits, underscore; punctuation dropped)."""
    return _WORD.findall(normalize(text))


def exact_match(output: str, reference: str) -> float:
    return float(normalize(output) == normalize(reference))


def contains(output: str, reference: str) -> float:
    ref = normalize(reference)
    return float(bool(ref) and ref in normalize(output))


def follows_format(output: str, reference: str, answer: str) -> float:
    """1.0 if ``output`` has the reference's form with any words where the reference has ``answer``: the format
    of a templated reply, whatever it answers. ``"Answer: Lyon. Confidence: high."`` follows the reference
    ``"Answer: Paris. Confidence: high."`` (answer ``"Paris"``); ``"Paris"`` or ``"Answer: Paris."`` do not.
    Compared after `normalize`; a reference that does not contain its answer falls back to `exact_match`."""
    out, ref, ans = normalize(output), normalize(reference), normalize(answer)
    if not ans or ans not in ref:
        return exact_match(output, reference)
    before, after = ref.split(ans, 1)
    # The hole takes any text with a word in it ("answer: . confidence: high" is not the format).
    hole = re.fullmatch(re.escape(before) + r"(.+?)" + re.escape(after), out)
    return float(hole is not None and _WORD.search(hole.group(1)) is not None)


def token_f1(output: str, reference: str) -> float:
    """Harmonic mean of precision and recall of the answer's words against the reference's (multisets)."""
    out, ref = words(output), words(reference)
    if not out or not ref:
        return float(out == ref)
    common = sum((Counter(out) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(out), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence (dynamic programming, one row of len(b) + 1 kept)."""
    if not a or not b:
        return 0
    row = [0] * (len(b) + 1)
    for x in a:
        diagonal = 0  # row[j - 1] of the previous row
        for j, y in enumerate(b, start=1):
            above = row[j]
            row[j] = diagonal + 1 if x == y else max(row[j], row[j - 1])
            diagonal = above
    return row[-1]


def rouge_l(output: str, reference: str) -> float:
    """ROUGE-L F-measure with β = 1: LCS-precision and LCS-recall over `words`, their harmonic mean."""
    out, ref = words(output), words(reference)
    if not out or not ref:
        return float(out == ref)
    lcs = lcs_length(out, ref)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(out), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


def score(output: str, reference: str) -> dict[str, float]:
    """Every metric of `METRICS` for one answer."""
    return {"exact_match": exact_match(output, reference), "contains": contains(output, reference),
            "f1": token_f1(output, reference), "rouge_l": rouge_l(output, reference)}


def summarize(scores: Iterable[dict[str, Any]]) -> dict[str, float]:
    """The mean of each metric over ``scores`` (rows with the `METRICS` keys), and ``n``."""
    rows = list(scores)
    out: dict[str, float] = {m: (sum(float(r[m]) for r in rows) / len(rows) if rows else 0.0) for m in METRICS}
    out["n"] = len(rows)
    return out


def wilson_interval(wins: float, n: float, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``wins / n`` (95 % by default); (0, 1) when n is 0."""
    if n <= 0:
        return 0.0, 1.0
    p = wins / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


# --------------------------------------------------------------------------------------------------
# Evaluation prompts: from tokenized examples, or from a data file


@dataclass(frozen=True)
class EvalPrompt:
    """One evaluation prompt: its tokens as training formatted them, and the reference answer."""

    prompt_ids: tuple[int, ...]
    prompt: str
    """The prompt's text (special tokens included, as the model sees it)."""
    reference: str


def clean_answer(text: str, tokenizer: Any = None) -> str:
    """An answer up to the first end marker (the end-of-turn text of chat templates, the eos text), stripped."""
    markers = list(END_MARKERS)
    eos = getattr(tokenizer, "eos_token", None)
    if eos:
        markers.append(eos)
    cut = len(text)
    for marker in markers:
        at = text.find(marker)
        if at != -1:
            cut = min(cut, at)
    return text[:cut].strip()


def prompt_of(example: Example, tokenizer: Any) -> EvalPrompt | None:
    """The prompt (tokens before the first trained token) and reference (the first run of trained tokens)
    of a tokenized example, or None when it has no untrained beginning to prompt with."""
    labels = example.labels
    first = next((i for i, label in enumerate(labels) if label != IGNORE), None)
    if first is None or first == 0 or (first == 1 and _only_bos(example, tokenizer)):
        return None  # nothing, or only a BOS, before the answer: everything is trained (train_on='all', text)
    end = first
    while end < len(labels) and labels[end] != IGNORE:
        end += 1
    ids = tuple(example.input_ids[:first])
    reference = clean_answer(tokenizer.decode(list(example.input_ids[first:end]), skip_special_tokens=True), tokenizer)
    return EvalPrompt(ids, tokenizer.decode(list(ids), skip_special_tokens=False), reference)


def _only_bos(example: Example, tokenizer: Any) -> bool:
    return example.input_ids[0] == getattr(tokenizer, "bos_token_id", None)


def eval_prompts(examples: Sequence[Example], tokenizer: Any, count: int) -> list[EvalPrompt]:
    """The first ``count`` examples that have a prompt (the validation split is already a seeded random
    sample, so the first ones are a fixed, fair sample)."""
    out: list[EvalPrompt] = []
    for example in examples:
        if len(out) >= count:
            break
        prompt = prompt_of(example, tokenizer)
        if prompt is not None:
            out.append(prompt)
    return out


def prompts_from_file(path: str, data: dict[str, Any] | DataConfig, tokenizer: Any, limit: int | None = None) -> list[EvalPrompt]:
    """Evaluation prompts from a data file (any format training reads), formatted with a run's data
    settings (``data``: `core.data.DataConfig` or its dict), exactly as training formatted them.
    The answers are scored against the whole trained part (``train_on`` is taken as 'completion')."""
    config = data if isinstance(data, DataConfig) else DataConfig(**{k: v for k, v in data.items() if k in DataConfig.__dataclass_fields__})
    config = DataConfig(**{**config.__dict__, "path": str(path), "validation_path": None, "train_on": "completion"})
    records = read_records(path, split=config.split)
    fmt = detect_format(records, config)
    out = []
    for i, record in enumerate(records):
        example = tokenize_segments(tokenizer, record_segments(record, fmt, config, tokenizer, f"{path}, record {i + 1}"))
        prompt = prompt_of(example, tokenizer)
        if prompt is not None:
            out.append(prompt)
        if limit is not None and len(out) >= limit:
            break
    return out


# --------------------------------------------------------------------------------------------------
# Generation (torch inside)


def _stop_ids(tokenizer: Any) -> list[int]:
    """Token ids that end an answer: eos, and every end marker that is one token of this vocabulary."""
    ids = [] if tokenizer.eos_token_id is None else [int(tokenizer.eos_token_id)]
    vocab = tokenizer.get_vocab()
    for marker in END_MARKERS:
        if marker in vocab and vocab[marker] not in ids:
            ids.append(int(vocab[marker]))
    return ids


def generate(model: Any, tokenizer: Any, prompts: Sequence[EvalPrompt], max_new_tokens: int = 32) -> list[str]:
    """Greedy answers (deterministic: no sampling) to ``prompts``, one prompt at a time (no padding, so an
    answer never depends on the other prompts of a batch), cut at the first end marker."""
    import torch

    device = next(p for p in model.parameters()).device
    was_training = model.training
    model.eval()
    stop = _stop_ids(tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (stop[0] if stop else 0)
    answers = []
    try:
        with torch.no_grad():
            for prompt in prompts:
                ids = torch.tensor([prompt.prompt_ids], device=device)  # (1, T)
                out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                                     do_sample=False, eos_token_id=stop or None, pad_token_id=pad)  # (1, T + new)
                text = tokenizer.decode(out[0, ids.shape[1]:].tolist(), skip_special_tokens=False)
                answers.append(clean_answer(_strip_special(text, tokenizer), tokenizer))
    finally:
        model.train(was_training)
    return answers


def _strip_special(text: str, tokenizer: Any) -> str:
    """Cut at the first end marker first (so text after an end-of-turn is not joined on), then drop pad tokens."""
    text = clean_answer(text, tokenizer)
    pad = getattr(tokenizer, "pad_token", None)
    return text.replace(pad, "") if pad else text


def samples(model: Any, tokenizer: Any, prompts: Sequence[EvalPrompt], max_new_tokens: int = 32) -> list[dict[str, Any]]:
    """Generate and score: one row per prompt (``prompt_index``, ``prompt``, ``reference``, ``output`` and
    the `METRICS`), the form `core.protocol.Samples` carries and the project file stores."""
    outputs = generate(model, tokenizer, prompts, max_new_tokens)
    return [{"prompt_index": i, "prompt": p.prompt, "reference": p.reference, "output": o, **score(o, p.reference)}
            for i, (p, o) in enumerate(zip(prompts, outputs))]


# --------------------------------------------------------------------------------------------------
# A model of a project on a file: `adapter-studio eval`


def choose_checkpoint(project: Any, run: Any, which: str | int | None = None, metric: str = "eval_loss") -> Path:
    """The checkpoint folder of ``run`` that ``which`` names: None or ``"last"`` (the newest on disk),
    ``"best"`` (the best ``metric`` among the evaluated checkpoints, `Project.best_checkpoint`), or a step.
    Raises `RequestError` saying which checkpoints there are."""
    from core.errors import RequestError

    rows = [r for r in project.checkpoints(run.id) if Path(r["path"]).is_dir()]
    have = ", ".join(str(r["step"]) for r in rows) or "none"
    if which in (None, "last"):
        last = project.last_checkpoint(run.id)
        if last is None:
            raise RequestError(f"run {run.id} has no checkpoint on disk; train it first.")
        return last
    if which == "best":
        best = project.best_checkpoint(run.id, metric)
        if best is None:
            raise RequestError(f"run {run.id} has no evaluated checkpoint to rank by {metric} (checkpoints: {have}); "
                               "give a step, or evaluate more often (eval_steps) with checkpoints at the same steps.")
        return Path(best["path"])
    try:
        step = int(which)
    except (TypeError, ValueError):
        raise RequestError(f"--checkpoint takes a step number, 'last' or 'best', not {which!r}.") from None
    for row in rows:
        if row["step"] == step:
            return Path(row["path"])
    raise RequestError(f"run {run.id} has no checkpoint at step {step} (checkpoints on disk: {have}).")


def load_for_eval(model_ref: str, checkpoint: Path | None) -> tuple[Any, Any]:
    """(model, tokenizer): the base model, with the checkpoint's adapter when ``checkpoint`` is given."""
    from core.models import load_model
    from core.peft_model import PeftModel
    from core.runs import adapter_folder

    model, tokenizer = load_model(model_ref)
    if checkpoint is not None:
        model = PeftModel.from_pretrained(model, adapter_folder(checkpoint))
    model.eval()
    return model, tokenizer


def evaluate_file(model: Any, tokenizer: Any, data: dict[str, Any], path: str, *, max_new_tokens: int = 32,
                  limit: int | None = None) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Score ``model`` on every record of the data file ``path`` (formatted with the data settings ``data``,
    as training formatted them): (the `summarize` of the rows, one row per record as `samples` makes them)."""
    from core.errors import RequestError

    prompts = prompts_from_file(path, data, tokenizer, limit)
    if not prompts:
        raise RequestError(f"{path}: no record has a prompt to answer (every token of each record would be trained: "
                           "use prompt/completion or chat records).")
    rows = samples(model, tokenizer, prompts, max_new_tokens)
    return summarize(rows), rows


# --------------------------------------------------------------------------------------------------
# Answers of a model of a project, for a blind comparison


def model_label(model: dict[str, Any]) -> str:
    """``{"run_id": None}`` -> "base"; ``{"run_id": 2, "step": 40}`` -> "run 2 · step 40"."""
    if model.get("run_id") is None:
        return "base"
    return f"run {model['run_id']}" + (f" · step {model['step']}" if model.get("step") is not None else "")


def answers_for(project: Any, model: dict[str, Any], prompts: Sequence[dict[str, Any]], max_new_tokens: int = 32) -> list[str]:
    """The answers of ``model`` (``{"run_id": None}`` the base, ``{"run_id": N, "step": S}`` run N's checkpoint
    at step S) to ``prompts`` (rows with the ``prompt`` text as the model saw it). Answers recorded in the
    project file for exactly these prompts are reused (they are the same greedy answers); otherwise the model
    is loaded and answers them here (torch; call it off the GUI thread)."""
    texts = [p["prompt"] for p in prompts]
    run_id, step = model.get("run_id"), model.get("step")
    recorded: dict[str, str] = {}
    if run_id is None:
        for run in project.runs():
            recorded.update({r["prompt"]: r["output"] for r in project.samples(run.id, step=0)})
    elif step is not None:
        recorded = {r["prompt"]: r["output"] for r in project.samples(run_id, step=step)}
    if all(t in recorded for t in texts):
        return [recorded[t] for t in texts]
    if run_id is None:
        model_ref, checkpoint = project.settings().model, None
    else:
        run = project.run(run_id)
        model_ref, checkpoint = run.config.model, choose_checkpoint(project, run, step)
    lm, tokenizer = load_for_eval(model_ref, checkpoint)
    # The recorded prompt text holds the template's special tokens as text: tokenized without adding a BOS
    # again it gives the ids training used (a BOS at its start is part of the text).
    eval_set = [EvalPrompt(tuple(tokenizer(t, add_special_tokens=False)["input_ids"]), t, p.get("reference", ""))
                for t, p in zip(texts, prompts)]
    return generate(lm, tokenizer, eval_set, max_new_tokens)
