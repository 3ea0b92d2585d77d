"""The methods Adapter Studio offers and their facts, without torch: what the window, the command line,
export and training read.

`METHODS` is the registry: one line per method, ``PeftType`` name -> its file, in the picker's order.
The facts themselves live in each method file as ``FACTS = MethodFacts(...)`` (`core.methods.contract`, or
``FACTS = MethodFacts.prompt_learning(...)`` for the facts the prompt-learning methods share); this module
reads them from the file's text (``ast.literal_eval`` of the call's keywords), so importing
it — or asking it about a method — loads no torch. Where the source is not on disk (a frozen bundle
keeps only bytecode) it imports the method file instead, which loads torch there.
"""

from __future__ import annotations

import ast
import functools
import importlib
import re
from pathlib import Path
from typing import Any

from core.methods.contract import MethodFacts

METHODS: dict[str, str] = {
    "LORA": "core.methods.lora",
    "PROMPT_TUNING": "core.methods.prompt_tuning",
    "P_TUNING": "core.methods.p_tuning",
    "PREFIX_TUNING": "core.methods.prefix_tuning",
    "ADAPTION_PROMPT": "core.methods.adaption_prompt",
    "ADALORA": "core.methods.adalora",
    "IA3": "core.methods.ia3",
}


class UnknownMethod(LookupError):
    """Not a method of `METHODS`."""


def names() -> list[str]:
    """Every method's ``PeftType`` name, in the picker's order."""
    return list(METHODS)


def key(method: Any) -> str:
    """A ``PeftType``, its value or a name in any case (``"lora"``, ``"prefix-tuning"``) -> the `METHODS` key."""
    return str(getattr(method, "value", method)).strip().upper().replace("-", "_")


@functools.cache
def facts(method: Any) -> MethodFacts:
    """The facts ``FACTS`` declares in ``method``'s file. Raises `UnknownMethod` for a name not in `METHODS`."""
    name = key(method)
    if name not in METHODS:
        raise UnknownMethod(f"{method!r} is not a method; known: {', '.join(METHODS)}.")
    module = METHODS[name]
    source = _source(module)
    if source is None:  # a frozen bundle: no text to read, so the module itself (torch is there anyway)
        return importlib.import_module(module).FACTS
    return _facts_from_source(source, module)


def get(method: Any) -> MethodFacts | None:
    """`facts`, or None for a name that is not a method (an older or newer project's)."""
    try:
        return facts(method)
    except UnknownMethod:
        return None


def label(method: Any) -> str:
    """The method's name for people; an unknown one is spelled out from its ``PeftType`` name."""
    found = get(method)
    return found.label if found else key(method).replace("_", " ").capitalize()


def no_targets_reason(method: Any) -> str:
    """Why the method takes no targets from the module tree (its file's sentence, or a general one)."""
    found = get(method)
    return (found and found.no_targets) or f"{label(method)} does not adapt individual modules."


def _source(module: str) -> str | None:
    # The file beside this one (not importlib.util.find_spec, which would import the package first).
    path = Path(__file__).with_name(module.rsplit(".", 1)[1] + ".py")
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def _facts_from_source(source: str, module: str) -> MethodFacts:
    # Only the FACTS statement is parsed (the whole file cost ~30 ms a method on the GUI thread): from its
    # first line, as many lines as make a complete statement.
    where = f"{module.replace('.', '/')}.py"
    match = re.search(r"^FACTS = MethodFacts(?:\.(prompt_learning))?\(", source, re.M)
    if match is None:
        raise TypeError(f"{where} declares no FACTS = MethodFacts(...) at module level.")
    line = source.count("\n", 0, match.start()) + 1
    lines = source[match.start():].splitlines()
    for end in range(1, len(lines) + 1):
        try:
            call = ast.parse("\n".join(lines[:end]), where).body[0].value
            break
        except SyntaxError:
            continue
    else:
        raise TypeError(f"{where}, line {line}: FACTS = MethodFacts(...) is not complete Python.")
    if call.args:
        raise TypeError(f"{where}, line {line}: FACTS = MethodFacts(...) takes keyword arguments only.")
    try:
        values = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
    except ValueError:
        raise TypeError(f"{where}, line {line}: every value of FACTS must be a literal (the catalog reads it without importing the file).") from None
    build = getattr(MethodFacts, match.group(1)) if match.group(1) else MethodFacts
    return build(**values)
