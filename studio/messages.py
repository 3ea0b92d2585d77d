"""Messages from the engine (`core`), in the window's language.

`core` writes its errors in English for a person (what was wrong and where: file, line, module name)
and gives each error class a ``kind`` (`core.errors`). The window translates them here: each
`PATTERNS` entry matches one message that `core` writes and rebuilds it from a translatable template
with the message's own names, paths and numbers (a template that repeats `core`'s message word for
word is its expression too, through `_pattern`); `person` applies them (also to the part after
"Training failed: …" and the worker's "The dataset cannot be used: …"). In English the message is
shown exactly as `core` wrote it. A message no pattern knows gets a translated headline for its kind
(`HEADLINES`) in front of the engine's words, so the person at least reads what went wrong in their
language; add a pattern when a new message turns up.

`advice` is the "what to do" line for a failed run's kind (`core.protocol.Failed.kind`).
"""

from __future__ import annotations

import re

from PySide6.QtCore import QCoreApplication, QT_TRANSLATE_NOOP

CONTEXT = "Messages"


# Named parts of core's messages, for `_pattern`: what each may hold (anything else: any text).
_PARTS = {"field": r"\w+", "cls": r"\w+", "line": r"\d+", "col": r"\d+", "step": r"\d+", "min": r"-?\d+",
          "kinds": r"[\w, /]+?", "rest": r".*"}


def _pattern(template: str) -> re.Pattern[str]:
    """The expression of core's message that ``template`` repeats word for word: its text literally, each
    ``{name}`` a named group (`_PARTS`), the closing full stop optional."""
    pieces = re.split(r"\{(\w+)\}", template)
    rx = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>{_PARTS.get(p, '.+?')})" for i, p in enumerate(pieces))
    if template.endswith("."):  # core's message may leave it out
        rx = rx[: -len(re.escape("."))] + r"\.?"
    return re.compile(f"^{rx}$", re.S)


def _table(entries: tuple[str | tuple[str, str], ...]) -> list[tuple[re.Pattern[str], str]]:
    """(expression, template) pairs: an entry is a template that core's message repeats (its expression made
    by `_pattern`), or (expression, template) where the window words core's message otherwise."""
    return [(re.compile(e[0], re.S), e[1]) if isinstance(e, tuple) else (_pattern(e), e) for e in entries]


# core's English messages and their translatable templates (with the message's own names as {groups}).
PATTERNS = _table((
    (r"^(?P<path>.+) is not a Hugging Face model folder: it has no config\.json\..*$",
     QT_TRANSLATE_NOOP("Messages", "{path} is not a Hugging Face model folder: it has no config.json. Choose the folder that "
                       "holds config.json and the *.safetensors weights, a .gguf file, a hub id in the local cache or a "
                       "built-in name.")),
    (r"^The hub id '(?P<id>[^']+)' is not in the local Hugging Face cache.*$",
     QT_TRANSLATE_NOOP("Messages", "The hub id '{id}' is not in the local Hugging Face cache. Download it first with "
                       "the Hub… button (or `adapter-studio pull {id}`). Without network here, run that or "
                       "`hf download {id}` on a machine with network and copy the cache over.")),
    (r"^Unknown model reference '(?P<ref>[^']*)'\..*$",
     QT_TRANSLATE_NOOP("Messages", "Unknown model reference '{ref}'. Choose a model folder, a .gguf file, a hub id in "
                       "the local cache or a built-in name (smollm2-135m-instruct, bloomz-560m, tiny-bloom, tiny-llama, "
                       "tiny-gpt2).")),
    (r"^There is no file or folder at (?P<path>.+?)\. Check the path.*$",
     QT_TRANSLATE_NOOP("Messages", "There is no file or folder at {path}. Check the path.")),
    (r"^The model reference is empty\..*$",
     QT_TRANSLATE_NOOP("Messages", "The model reference is empty: choose a model.")),
    (r"^(?P<file>.+), line (?P<line>\d+): not valid JSON \(.*column (?P<col>\d+)\)\.?$",
     QT_TRANSLATE_NOOP("Messages", "{file}, line {line}, column {col}: not valid JSON.")),
    (r"^(?P<file>.+), line (?P<line>\d+): not valid JSON.*$",
     QT_TRANSLATE_NOOP("Messages", "{file}, line {line}: not valid JSON.")),
    (r"^(?P<field>\w+): not valid JSON.*$",
     QT_TRANSLATE_NOOP("Messages", "{field}: not valid JSON.")),
    # the rest word for word as core writes them
    QT_TRANSLATE_NOOP("Messages", "target_modules entry '{name}' matches no module of this model. Closest real names: "
                      "{close}."),
    QT_TRANSLATE_NOOP("Messages", "{field} must be a whole number ≥ {min}, got {got}."),
    QT_TRANSLATE_NOOP("Messages", "{field} must be in {range}, not {got}."),
    QT_TRANSLATE_NOOP("Messages", "{field} must be positive, not {got}."),
    QT_TRANSLATE_NOOP("Messages", "{field} must be a number, not {got}."),
    QT_TRANSLATE_NOOP("Messages", "Set max_steps ≥ 1 or num_epochs > 0."),
    QT_TRANSLATE_NOOP("Messages", "not a valid regular expression: {why}"),
    # the methods' can_target sentences (core/methods/*.py), shown on grey rows and under the tree
    QT_TRANSLATE_NOOP("Messages", "{method} adapts {kinds} layers, not {cls}."),
    QT_TRANSLATE_NOOP("Messages", "Adaption prompt adapts whole attention modules of Llama, Mistral, GPT-2 and Bloom blocks."),
    QT_TRANSLATE_NOOP("Messages", "{method} adds virtual tokens in front of the input; it does not adapt individual modules."),
    QT_TRANSLATE_NOOP("Messages", "Prefix tuning adds learned keys and values to every attention layer; it does not adapt "
                      "individual modules."),
    # why a method takes no module targets (each method file's FACTS.no_targets, through core.methods.catalog)
    QT_TRANSLATE_NOOP("Messages", "Prompt tuning learns virtual tokens in front of the input; it adapts no module."),
    QT_TRANSLATE_NOOP("Messages", "P-tuning learns virtual tokens (through a small prompt encoder); it adapts no module."),
    QT_TRANSLATE_NOOP("Messages", "Prefix tuning learns key/value prefixes for every attention layer; it adapts no module."),
    QT_TRANSLATE_NOOP("Messages", "Adaption prompt adds gated prompts to the top attention layers; it adapts no module."),
    QT_TRANSLATE_NOOP("Messages", "{method} does not adapt individual modules."),
))

# Prefixes core puts before another message: translated, and the rest ({rest}) translated on its own.
PREFIXES = _table((
    QT_TRANSLATE_NOOP("Messages", "Training failed at step {step}: {rest}"),
    QT_TRANSLATE_NOOP("Messages", "Training failed: {rest}"),
    QT_TRANSLATE_NOOP("Messages", "The model could not be loaded: {rest}"),
    QT_TRANSLATE_NOOP("Messages", "The dataset cannot be used: {rest}"),
    QT_TRANSLATE_NOOP("Messages", "The run's settings are not valid: {rest}"),
    QT_TRANSLATE_NOOP("Messages", "Training could not start: {rest}"),
))

# The headline of a message no pattern knows, by its kind (`core.errors`, `core.protocol.Failed.kind`).
HEADLINES = {
    "model": QT_TRANSLATE_NOOP("Messages", "The model could not be loaded."),
    "data": QT_TRANSLATE_NOOP("Messages", "The dataset cannot be used."),
    "config": QT_TRANSLATE_NOOP("Messages", "A setting is not valid."),
    "project": QT_TRANSLATE_NOOP("Messages", "The project file cannot be used."),
    "export": QT_TRANSLATE_NOOP("Messages", "The export failed."),
    "oom": QT_TRANSLATE_NOOP("Messages", "Out of memory."),
    "nan": QT_TRANSLATE_NOOP("Messages", "The loss is no longer a number."),
    "request": QT_TRANSLATE_NOOP("Messages", "This cannot be done now."),
    "crashed": QT_TRANSLATE_NOOP("Messages", "The training process ended without a word."),
    "": QT_TRANSLATE_NOOP("Messages", "Something went wrong."),
}

ADVICE = {
    "oom": QT_TRANSLATE_NOOP("Messages", "Lower the batch size or max_length, or turn on gradient checkpointing, then "
                             "Resume or train again."),
    "nan": QT_TRANSLATE_NOOP("Messages", "Lower the learning rate (or use more warm-up steps), then train again."),
    "data": QT_TRANSLATE_NOOP("Messages", "Fix the dataset (the Data tab's Preview shows the problem), then train again."),
    "config": QT_TRANSLATE_NOOP("Messages", "Change the setting named above, then train again."),
    "model": QT_TRANSLATE_NOOP("Messages", "Check the model reference (folder, .gguf file, built-in name), then train again."),
    "": QT_TRANSLATE_NOOP("Messages", "See the log below for details; Resume continues from the last checkpoint if there "
                          "is one."),
}


def _t(text: str) -> str:
    return QCoreApplication.translate(CONTEXT, text)


def translated() -> bool:
    """Whether the window speaks another language than English (a translator knows our strings)."""
    return _t(HEADLINES[""]) != HEADLINES[""]


def person(message: str, kind: str | None = None, *, headline: bool = True) -> str:
    """``message`` (an engine error, as written by `core`) in the window's language; one no pattern knows
    behind the headline of its kind (unless ``headline`` is False)."""
    if not message or not translated():
        return message
    text = message.strip()
    for rx, template in PREFIXES:
        m = rx.match(text)
        if m:
            groups = m.groupdict()
            # "The dataset cannot be used: …" says what the data headline would say again
            said = template.split("{rest}")[0].rstrip(": ") + "."
            groups["rest"] = person(groups["rest"], kind, headline=said != HEADLINES.get(kind or ""))
            return _t(template).format(**groups)
    for rx, template in PATTERNS:
        m = rx.match(text)
        if m:
            groups = m.groupdict()
            if "kinds" in groups:  # "Linear, Conv1D and Embedding": a list in the target language's way
                groups["kinds"] = _t(QT_TRANSLATE_NOOP("Messages", ", ")).join(re.split(r", | and ", groups["kinds"]))
            return _t(template).format(**groups)
    if _has_chinese(text) or not headline:
        return message
    return f"{_t(HEADLINES.get(kind or '', HEADLINES['']))} {message}"


def advice(kind: str | None) -> str:
    """What to do about a failed run of this kind, in the window's language."""
    return _t(ADVICE.get(kind or "", ADVICE[""]))


def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)
