"""Datasets -> formatted, tokenized, loss-masked examples; batches with dynamic padding; previews.

The path of an example::

    a record (dict)  ->  segments [(text, trained?)]  ->  input_ids + labels (-100 where not trained)
                     ->  truncation to max_length      ->  optional packing  ->  padded batches

Segments are tokenized one by one and concatenated, so the prompt is tokenized exactly as it will be at
inference time (the chat template up to ``<|im_start|>assistant\\n``) and the boundary between "context"
and "trained" tokens never falls inside a token.

Sources (`DataConfig.path`): ``.jsonl``, ``.json`` (a list of records, or JSON lines), ``.csv``,
``.parquet``, a folder written by ``datasets``' ``save_to_disk``, or a hub dataset id already in the
local cache. Formats: ``prompt_completion`` (alpaca's ``instruction``/``input``/``output`` detected),
``chat`` (a list of ``{"role", "content"}`` messages, rendered with the tokenizer's chat template or a
ChatML fallback) and ``text``. Bad data raises `DataError` with the file and line, the columns found,
or the byte position; nothing is dropped without being counted in `DataStats`.
"""

from __future__ import annotations

import csv
import json
import math
import os
import random
import statistics
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from core.errors import DataError

FORMATS = ("auto", "prompt_completion", "chat", "text")
TRAIN_ON = ("completion", "all")
TEACHES = ("facts", "style")
"""What a dataset can teach, as the user says it (`DataConfig.teaches`): ``"facts"``, new facts to store and recall
(the made-up capitals); ``"style"``, a style or format for answers the model can already give (the answer
template). Training ignores it; the studio's method form warns about a method that measured poorly on it."""
IGNORE = -100  # label of tokens that carry no loss (PyTorch's cross_entropy ignore_index)

# ChatML, for tokenizers without a chat template (the tiny built-ins and SmolLM2 use the same layout).
FALLBACK_CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@dataclass
class DataConfig:
    """Where the training data is and how it becomes tokens. Saved in the project file as JSON."""

    path: str = field(default="", metadata={"help": "A .jsonl/.json/.csv/.parquet file, a save_to_disk folder, or a cached hub dataset id."})
    format: str = field(default="auto", metadata={"help": "'prompt_completion', 'chat', 'text', or 'auto' (detected from the columns)."})
    prompt_column: str = field(default="prompt", metadata={"help": "Column with the prompt (prompt_completion format)."})
    completion_column: str = field(default="completion", metadata={"help": "Column with the answer to learn (prompt_completion format)."})
    messages_column: str = field(default="messages", metadata={"help": "Column with the list of {role, content} messages (chat format)."})
    text_column: str = field(default="text", metadata={"help": "Column with the raw text (text format)."})
    use_chat_template: bool = field(
        default=True,
        metadata={"help": "prompt_completion: render prompt and completion as a user/assistant exchange with the chat template (False: plain concatenation)."},
    )
    separator: str = field(default="\n", metadata={"help": "prompt_completion without the chat template: text put between prompt and completion."})
    train_on: str = field(default="completion", metadata={"help": "'completion': loss on answers / assistant turns only; 'all': on every token."})
    max_length: int = field(default=512, metadata={"help": "Longer examples are cut to this many tokens (and counted)."})
    packing: bool = field(default=False, metadata={"help": "Pack several short examples into one row of max_length tokens (fewer pad tokens)."})
    validation_split: float = field(default=0.1, metadata={"help": "Fraction of the examples held out for evaluation (0: none)."})
    validation_path: str | None = field(default=None, metadata={"help": "A separate validation file (overrides validation_split)."})
    split: str = field(default="train", metadata={"help": "Split to use for a hub dataset or a save_to_disk DatasetDict."})
    seed: int = field(default=0, metadata={"help": "Seed of the validation split."})
    teaches: str = field(
        default="facts",
        metadata={"help": "What the data teaches: 'facts' (new facts to remember) or 'style' (a style or format for answers). "
                          "Training ignores it; the studio warns about a method that measured poorly on it."},
    )

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise DataError(f"format must be one of {', '.join(FORMATS)}, not {self.format!r}.")
        if self.train_on not in TRAIN_ON:
            raise DataError(f"train_on must be one of {', '.join(TRAIN_ON)}, not {self.train_on!r}.")
        if self.teaches not in TEACHES:
            raise DataError(f"teaches must be one of {', '.join(TEACHES)}, not {self.teaches!r}.")
        if self.max_length < 2:
            raise DataError(f"max_length must be at least 2, not {self.max_length}.")
        if not 0.0 <= self.validation_split < 1.0:
            raise DataError(f"validation_split must be in [0, 1), not {self.validation_split}.")


@dataclass
class Example:
    """One tokenized example. ``labels[i]`` is ``input_ids[i]`` where the token is trained, else -100
    (the shift for next-token prediction happens in the model)."""

    input_ids: list[int]
    labels: list[int]
    truncated: bool = False
    """Cut to max_length."""


@dataclass
class DataStats:
    """What happened to the records on the way to examples (shown by `preview` and logged by training)."""

    records: int = 0
    examples: int = 0
    truncated: int = 0
    """Examples cut to max_length."""
    dropped_no_target: int = 0
    """Examples with no trained token left (empty answer, or the answer fell past max_length): dropped, counted."""
    lengths: list[int] = field(default_factory=list)
    """Token length of each example before truncation."""

    def summary(self) -> dict[str, float]:
        """Token-length statistics: min, mean, median, p95, max."""
        if not self.lengths:
            return {}
        s = sorted(self.lengths)
        return {"min": s[0], "mean": statistics.fmean(s), "median": statistics.median(s),
                "p95": s[min(len(s) - 1, math.ceil(0.95 * len(s)) - 1)], "max": s[-1]}

    def warnings(self, max_length: int) -> list[str]:
        """Sentences for a person about examples cut or dropped."""
        out = []
        if self.truncated:
            out.append(f"{self.truncated} of {self.records} examples were longer than max_length={max_length} tokens and were cut.")
        if self.dropped_no_target:
            out.append(
                f"{self.dropped_no_target} of {self.records} examples had no tokens to train on (an empty answer, or "
                f"the answer lay beyond max_length={max_length}) and were left out."
            )
        return out


@dataclass
class PreparedData:
    """Training and validation examples, ready for `batches`."""

    train: list[Example]
    validation: list[Example]
    stats: DataStats
    format: str
    pad_token_id: int
    warnings: list[str] = field(default_factory=list)
    """Sentences about examples cut or left out (training reports them as `Log` warnings)."""


# --------------------------------------------------------------------------------------------------
# Reading records


def read_records(path: str | os.PathLike[str], *, split: str = "train") -> list[dict[str, Any]]:
    """The records of a data source as a list of dicts. Raises `DataError` for anything unreadable."""
    p = Path(os.path.expanduser(str(path)))
    if not str(path):
        raise DataError("No dataset given: set the data path to a .jsonl, .json, .csv or .parquet file.")
    if p.is_dir():
        return _read_saved(p, split)
    if p.is_file():
        suffix = p.suffix.lower()
        if suffix == ".jsonl":
            records = _read_jsonl(p, _read_text(p))
        elif suffix == ".json":
            records = _read_json(p, _read_text(p))
        elif suffix == ".csv":
            records = _read_csv(p, _read_text(p))
        elif suffix == ".parquet":
            records = _read_parquet(p)
        else:
            raise DataError(f"{p}: unknown file type '{suffix}'. Use .jsonl, .json, .csv or .parquet.")
    elif "/" in str(path) and not str(path).startswith((".", "/", "~")) and str(path).count("/") == 1:
        records = _read_hub(str(path), split)
    else:
        raise DataError(f"{path}: no such file or folder.")
    if not records:
        raise DataError(f"{path}: the dataset is empty (no records).")
    return records


def _read_text(p: Path) -> str:
    data = p.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DataError(
            f"{p}: byte {exc.start} (line {line}) is not valid UTF-8 (0x{data[exc.start]:02x}). "
            "Save the file as UTF-8."
        ) from None


def _read_jsonl(p: Path, text: str) -> list[dict[str, Any]]:
    records = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue  # blank lines are formatting, not records
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{p}, line {n}: not valid JSON ({exc.msg}, column {exc.colno}).") from None
        if not isinstance(rec, dict):
            raise DataError(f"{p}, line {n}: each line must be a JSON object, not a {type(rec).__name__}.")
        records.append(rec)
    return records


def _read_json(p: Path, text: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":  # JSON lines in a .json file
            return _read_jsonl(p, text)
        raise DataError(f"{p}, line {exc.lineno}: not valid JSON ({exc.msg}, column {exc.colno}).") from None
    if isinstance(data, dict):  # {"train": [...]} or {"data": [...]}: one list inside
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise DataError(f"{p}: expected a list of records (or an object holding one list), found an object with keys {sorted(data)}.")
        data = lists[0]
    if not isinstance(data, list):
        raise DataError(f"{p}: expected a list of records, found a {type(data).__name__}.")
    for i, rec in enumerate(data):
        if not isinstance(rec, dict):
            raise DataError(f"{p}: record {i} is a {type(rec).__name__}, not an object.")
    return data


def _read_csv(p: Path, text: str) -> list[dict[str, Any]]:
    reader = csv.reader(text.splitlines())
    try:
        header = next(reader)
    except StopIteration:
        return []
    records = []
    for row in reader:
        if not row:
            continue
        if len(row) != len(header):
            raise DataError(f"{p}, line {reader.line_num}: {len(row)} fields, but the header has {len(header)} ({', '.join(header)}).")
        records.append(dict(zip(header, row)))
    return records


def _read_parquet(p: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    try:
        return pq.read_table(p).to_pylist()
    except Exception as exc:  # noqa: BLE001 - arrow raises many types for a damaged file
        raise DataError(f"{p}: cannot read the parquet file ({exc}).") from None


def _read_saved(p: Path, split: str) -> list[dict[str, Any]]:
    import datasets

    try:
        ds = datasets.load_from_disk(str(p))
    except Exception as exc:  # noqa: BLE001
        raise DataError(f"{p}: not a dataset folder written by save_to_disk ({exc}).") from None
    if isinstance(ds, datasets.DatasetDict):
        if split not in ds:
            raise DataError(f"{p}: no split '{split}'; the folder has {', '.join(ds)}.")
        ds = ds[split]
    return ds.to_list()


def _read_hub(repo_id: str, split: str) -> list[dict[str, Any]]:
    import datasets

    try:
        # Offline, `load_dataset(repo_id)` finds only what an earlier load_dataset prepared; files that
        # `hf download` put in the hub cache are a snapshot folder, which loads like any local folder.
        source = repo_id
        try:
            from huggingface_hub import snapshot_download

            source = snapshot_download(repo_id, repo_type="dataset", local_files_only=True)
        except Exception:  # noqa: BLE001 - not downloaded that way: try the datasets cache
            pass
        ds = datasets.load_dataset(source, split=split)
    except Exception as exc:  # noqa: BLE001
        raise DataError(
            f"{repo_id}: not a file, and not a dataset in the local Hugging Face cache ({type(exc).__name__}). "
            f"On a machine with network run `hf download --repo-type dataset {repo_id}`, or save it as a file."
        ) from None
    return ds.to_list()


# --------------------------------------------------------------------------------------------------
# Formatting: record -> segments [(text, trained)]


def detect_format(records: list[dict[str, Any]], config: DataConfig) -> str:
    """The format named in the config, or the one the columns of the first record suggest."""
    cols = set(records[0])
    if config.format != "auto":
        need = {"prompt_completion": [config.prompt_column, config.completion_column],
                "chat": [config.messages_column], "text": [config.text_column]}[config.format]
        if config.format == "prompt_completion" and _is_alpaca(cols, config):
            return "alpaca"
        missing = [c for c in need if c not in cols]
        if missing:
            raise DataError(
                f"{config.path}: format '{config.format}' needs the column(s) {', '.join(missing)}, but the data has "
                f"{', '.join(sorted(cols))}. Set the column names in the data settings."
            )
        return config.format
    if config.messages_column in cols:
        return "chat"
    if config.prompt_column in cols and config.completion_column in cols:
        return "prompt_completion"
    if _is_alpaca(cols, config):
        return "alpaca"
    if config.text_column in cols:
        return "text"
    raise DataError(
        f"{config.path}: cannot tell the format from the columns found: {', '.join(sorted(cols))}. Expected "
        f"'{config.prompt_column}' + '{config.completion_column}', 'instruction' + 'output', "
        f"'{config.messages_column}' or '{config.text_column}'; or set the format and column names."
    )


def _is_alpaca(cols: set[str], config: DataConfig) -> bool:
    return {"instruction", "output"} <= cols and config.prompt_column not in cols


def _chat_template(tokenizer: Any) -> str:
    return getattr(tokenizer, "chat_template", None) or FALLBACK_CHAT_TEMPLATE


def _render(tokenizer: Any, messages: list[dict[str, str]], generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(
        messages, chat_template=_chat_template(tokenizer), tokenize=False, add_generation_prompt=generation_prompt
    )


def chat_segments(tokenizer: Any, messages: list[dict[str, str]], train_on: str = "completion") -> list[tuple[str, bool]]:
    """The rendered conversation cut into (text, trained?) pieces: assistant turns are trained."""
    full = _render(tokenizer, messages, False)
    if train_on == "all":
        return [(full, True)]
    segments: list[tuple[str, bool]] = []
    done = 0  # characters of `full` already in segments
    for i, msg in enumerate(messages):
        if msg.get("role") != "assistant":
            continue
        before = _render(tokenizer, messages[:i], True) if i else ""
        upto = _render(tokenizer, messages[: i + 1], False)
        if not (full.startswith(upto) and upto.startswith(before)) or len(before) < done:
            raise DataError(
                "The chat template renders a conversation differently from its beginning, so the assistant "
                "turns cannot be located; set train_on='all' or use another template."
            )
        if i == 0:  # an assistant turn first: everything up to it is the turn
            before = ""
        segments.append((full[done:len(before)], False))
        segments.append((full[len(before):len(upto)], True))
        done = len(upto)
    segments.append((full[done:], False))
    return [(t, trained) for t, trained in segments if t]


def record_segments(record: dict[str, Any], fmt: str, config: DataConfig, tokenizer: Any, where: str) -> list[tuple[str, bool]]:
    """One record as (text, trained?) segments, in format ``fmt``. Raises `DataError` naming ``where``."""
    all_ = config.train_on == "all"
    if fmt in ("prompt_completion", "alpaca"):
        if fmt == "alpaca":
            prompt = _text(record, "instruction", where)
            extra = record.get("input") or ""
            prompt = f"{prompt}\n\n{extra}" if extra else prompt
            completion = _text(record, "output", where)
        else:
            prompt = _text(record, config.prompt_column, where)
            completion = _text(record, config.completion_column, where)
        if config.use_chat_template:
            msgs = [{"role": "user", "content": prompt}, {"role": "assistant", "content": completion}]
            return chat_segments(tokenizer, msgs, config.train_on)
        eos = tokenizer.eos_token or ""
        return [(prompt + config.separator, all_), (completion + eos, True)]
    if fmt == "chat":
        msgs = record.get(config.messages_column)
        if not isinstance(msgs, list) or not all(isinstance(m, dict) and "role" in m and "content" in m for m in msgs):
            raise DataError(f"{where}: '{config.messages_column}' must be a list of {{\"role\", \"content\"}} objects.")
        return chat_segments(tokenizer, msgs, config.train_on)
    text = _text(record, config.text_column, where)
    return [(text + (tokenizer.eos_token or ""), True)]


def _text(record: dict[str, Any], column: str, where: str) -> str:
    if column not in record:
        raise DataError(f"{where}: no column '{column}'; this record has {', '.join(sorted(record))}.")
    value = record[column]
    if value is None:
        raise DataError(f"{where}: column '{column}' is empty (null).")
    return value if isinstance(value, str) else str(value)


# --------------------------------------------------------------------------------------------------
# Tokenizing


def _adds_bos(tokenizer: Any) -> bool:
    bos = tokenizer.bos_token_id
    return bos is not None and tokenizer("a", add_special_tokens=True)["input_ids"][:1] == [bos]


def tokenize_segments(tokenizer: Any, segments: list[tuple[str, bool]], *, bos: bool | None = None) -> Example:
    """Tokenize each segment and concatenate; labels are -100 on untrained segments."""
    ids: list[int] = []
    labels: list[int] = []
    if bos if bos is not None else _adds_bos(tokenizer):
        ids.append(tokenizer.bos_token_id)
        labels.append(IGNORE)
    for text, trained in segments:
        piece = tokenizer(text, add_special_tokens=False)["input_ids"]
        ids += piece
        labels += piece if trained else [IGNORE] * len(piece)
    return Example(ids, labels)


def prepare(config: DataConfig, tokenizer: Any) -> PreparedData:
    """Read, format, tokenize, truncate, split and (optionally) pack the dataset of ``config``."""
    records = read_records(config.path, split=config.split)
    fmt = detect_format(records, config)
    stats = DataStats()
    examples = _tokenize_all(records, fmt, config, tokenizer, config.path, stats)
    if config.validation_path:
        vrecords = read_records(config.validation_path, split=config.split)
        vstats = DataStats()
        validation = _tokenize_all(vrecords, detect_format(vrecords, config), config, tokenizer, config.validation_path, vstats)
        train = examples
    else:
        train, validation = split_examples(examples, config.validation_split, config.seed)
    if not train:
        raise DataError(f"{config.path}: no training examples are left after the validation split; lower validation_split.")
    if config.packing:
        train = pack(train, config.max_length)
    return PreparedData(train, validation, stats, fmt, pad_id(tokenizer), stats.warnings(config.max_length))


def _tokenize_all(records, fmt, config, tokenizer, where, stats: DataStats) -> list[Example]:
    bos = _adds_bos(tokenizer)
    out = []
    for i, rec in enumerate(records):
        stats.records += 1
        ex = tokenize_segments(tokenizer, record_segments(rec, fmt, config, tokenizer, f"{where}, record {i + 1}"), bos=bos)
        stats.lengths.append(len(ex.input_ids))
        if len(ex.input_ids) > config.max_length:
            stats.truncated += 1
            ex = Example(ex.input_ids[: config.max_length], ex.labels[: config.max_length], truncated=True)
        if all(label == IGNORE for label in ex.labels[1:]):  # the first label is never predicted
            stats.dropped_no_target += 1
            continue
        out.append(ex)
    stats.examples = len(out)
    if not out:
        raise DataError(f"{where}: none of the {stats.records} examples has any token to train on. " + " ".join(stats.warnings(config.max_length)))
    return out


def split_examples(examples: list[Example], fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """A seeded random split: (train, validation). At least one validation example when fraction > 0."""
    if fraction <= 0 or len(examples) < 2:
        return list(examples), []
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    n_val = min(len(examples) - 1, max(1, round(fraction * len(examples))))
    val = set(order[:n_val])
    return [e for i, e in enumerate(examples) if i not in val], [examples[i] for i in sorted(val)]


def pack(examples: list[Example], max_length: int) -> list[Example]:
    """Greedy packing in order: whole examples are concatenated into rows of at most ``max_length``
    tokens. Examples within a row attend to each other (as in most packing implementations);
    the first token of each example carries no loss, so no example learns from its neighbour's end."""
    rows: list[Example] = []
    cur = Example([], [])
    for ex in examples:
        if cur.input_ids and len(cur.input_ids) + len(ex.input_ids) > max_length:
            rows.append(cur)
            cur = Example([], [])
        cur.input_ids += ex.input_ids
        cur.labels += [IGNORE] + ex.labels[1:]
    if cur.input_ids:
        rows.append(cur)
    return rows


def pad_id(tokenizer: Any) -> int:
    """The id used for padding: the pad token, else EOS (masked out by the attention mask anyway)."""
    for tid in (tokenizer.pad_token_id, tokenizer.eos_token_id, 0):
        if tid is not None:
            return int(tid)
    return 0


def collate(examples: list[Example], pad_token_id: int) -> dict[str, Any]:
    """Pad a batch to its longest example (dynamic padding, on the right).

    Returns ``input_ids (B, T)``, ``attention_mask (B, T)``, ``labels (B, T)`` (-100 on padding)."""
    import torch

    T = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), T), pad_token_id, dtype=torch.long)  # (B, T)
    labels = torch.full((len(examples), T), IGNORE, dtype=torch.long)  # (B, T)
    mask = torch.zeros((len(examples), T), dtype=torch.long)  # (B, T)
    for i, e in enumerate(examples):
        n = len(e.input_ids)
        ids[i, :n] = torch.tensor(e.input_ids)
        labels[i, :n] = torch.tensor(e.labels)
        mask[i, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def example_order(n: int, seed: int, epoch: int) -> list[int]:
    """The shuffled order of ``n`` examples in ``epoch`` (a pure function of seed and epoch, so a
    resumed run finds its place from the step number alone)."""
    order = list(range(n))
    random.Random(seed * 1_000_003 + epoch).shuffle(order)
    return order


def stream_indices(n: int, seed: int, start: int, count: int) -> list[int]:
    """Example indices at positions ``start .. start+count-1`` of the endless stream of shuffled epochs."""
    out: list[int] = []
    cache: dict[int, list[int]] = {}
    for k in range(start, start + count):
        epoch = k // n
        if epoch not in cache:
            cache[epoch] = example_order(n, seed, epoch)
        out.append(cache[epoch][k % n])
    return out


# --------------------------------------------------------------------------------------------------
# Preview


@dataclass
class PreviewExample:
    """One formatted example as the model sees it: (text, trained?) spans, decoded from the tokens."""

    spans: list[tuple[str, bool]]
    tokens: int
    trained_tokens: int
    truncated: bool

    def marked(self, open_: str = "[[", close: str = "]]") -> str:
        """The text with trained spans wrapped in markers (for a terminal)."""
        return "".join(f"{open_}{t}{close}" if trained else t for t, trained in self.spans)


@dataclass
class Preview:
    """`preview`'s answer: a few examples and statistics over the whole dataset."""

    format: str
    examples: list[PreviewExample]
    stats: DataStats
    length_stats: dict[str, float]
    warnings: list[str]


def preview(config: DataConfig, tokenizer: Any, n: int = 5) -> Preview:
    """The first ``n`` records formatted and tokenized, trained spans marked, plus token-length stats
    over all records. Raises `DataError` as training would."""
    records = read_records(config.path, split=config.split)
    fmt = detect_format(records, config)
    stats = DataStats()
    examples = _tokenize_all(records, fmt, config, tokenizer, config.path, stats)
    shown = []
    for ex in examples[:n]:
        spans: list[tuple[str, bool]] = []
        run: list[int] = []
        flag = None
        for tid, label in zip(ex.input_ids, ex.labels):
            trained = label != IGNORE
            if flag is not None and trained != flag:
                spans.append((tokenizer.decode(run), flag))
                run = []
            run.append(tid)
            flag = trained
        if run:
            spans.append((tokenizer.decode(run), bool(flag)))
        n_trained = sum(label != IGNORE for label in ex.labels)
        shown.append(PreviewExample(spans, len(ex.input_ids), n_trained, ex.truncated))
    return Preview(fmt, shown, stats, stats.summary(), stats.warnings(config.max_length))


# --------------------------------------------------------------------------------------------------
# Columns and their roles (the studio's column picker)

ROLE_FIELDS = {
    "prompt_completion": ("prompt_column", "completion_column"),
    "chat": ("messages_column",),
    "text": ("text_column",),
}
"""The `DataConfig` column fields each format reads (alpaca reads fixed names: instruction, input, output)."""

# Column names people give each role, most likely first (compared case-insensitively). "input" and
# "output" are left to the alpaca layout, which `detect_format` recognises first.
ROLE_NAMES = {
    "prompt_column": ("prompt", "question", "query", "instruction", "source", "user", "context"),
    "completion_column": ("completion", "answer", "response", "target", "reply", "assistant", "label"),
    "messages_column": ("messages", "conversations", "conversation", "chat", "dialog", "dialogue", "turns"),
    "text_column": ("text", "content", "document", "body", "passage", "sentence"),
}


@dataclass
class ColumnMapping:
    """A dataset's columns and the format and column mapping detected from them (`detect_columns`)."""

    columns: list[str]
    """Every column name, in the order the records first show them."""
    format: str
    """'prompt_completion', 'alpaca', 'chat' or 'text'; '' when no format fits."""
    mapping: dict[str, str]
    """`DataConfig` column fields -> the columns that make `format` work (empty for alpaca: fixed names)."""
    error: str = ""
    """Why no format fits (the message `detect_format` gives for the settings as they are), else ''."""


def columns(path: str | os.PathLike[str], *, split: str = "train") -> list[str]:
    """The column names of a data source, in the order the records first show them.
    Raises `DataError` as `read_records` does (no file, bad line, empty dataset, ...)."""
    return _column_names(read_records(path, split=split))


def _column_names(records: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(name for record in records for name in record))


def check_mapping(names: list[str], config: DataConfig) -> str:
    """The format ``config`` reads from data with the columns ``names`` ('alpaca' for the alpaca
    layout), or `DataError` saying which column is missing — `detect_format` on the names alone, so
    the studio can flag a mapping at once without reading the file again."""
    return detect_format([dict.fromkeys(names)], config)


def detect_columns(config: DataConfig) -> ColumnMapping:
    """Read the data of ``config`` and find a format and column mapping for it.

    The settings as they are come first: if ``detect_format`` accepts them, their columns are the
    mapping. Otherwise each role gets the first column whose name is a usual name for it
    (`ROLE_NAMES`: question/answer, conversations, content, ...) or, for chat, whose values are
    lists of {role, content} messages; for 'text', a lone column of strings will do. With an explicit
    format only that format's roles are guessed. Raises `DataError` when the data cannot be read;
    a dataset whose columns fit no format is answered with ``format=''`` and the reason in ``error``."""
    records = read_records(config.path, split=config.split)
    names = _column_names(records)
    try:
        fmt = detect_format(records, config)
    except DataError as exc:
        error = str(exc)
    else:
        fields = ROLE_FIELDS.get(fmt, ())
        return ColumnMapping(names, fmt, {f: getattr(config, f) for f in fields})
    first = records[0]
    lowered = {name.lower(): name for name in reversed(names)}  # the first of equal spellings wins

    def named(field_name: str, taken: tuple[str, ...] = ()) -> str | None:
        for usual in ROLE_NAMES[field_name]:
            name = lowered.get(usual)
            if name is not None and name not in taken:
                return name
        return None

    def is_messages(value: Any) -> bool:
        return isinstance(value, list) and bool(value) and all(
            isinstance(m, dict) and "role" in m and "content" in m for m in value)

    guesses: list[tuple[str, dict[str, str]]] = []
    chat = next((n for n in names if is_messages(first.get(n))), None) or named("messages_column")
    if chat:
        guesses.append(("chat", {"messages_column": chat}))
    prompt = named("prompt_column")
    completion = named("completion_column", (prompt,) if prompt else ())
    if prompt and completion:
        guesses.append(("prompt_completion", {"prompt_column": prompt, "completion_column": completion}))
    strings = [n for n in names if isinstance(first.get(n), str)]
    text = named("text_column") or (strings[0] if len(strings) == 1 else None)
    if text:
        guesses.append(("text", {"text_column": text}))
    for fmt, mapping in guesses:
        if config.format not in ("auto", fmt):
            continue
        candidate = replace(config, **mapping)
        try:
            found = detect_format(records, replace(candidate, format=fmt))
        except DataError:
            continue
        return ColumnMapping(names, found, {} if found == "alpaca" else mapping)
    return ColumnMapping(names, "", {}, error)
