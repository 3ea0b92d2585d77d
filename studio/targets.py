"""Target matching for the GUI thread: PEFT's rules on plain module names (no torch).

`core.targeting` decides for real on the model; this module applies its name rules to the list of
qualified module names that the skeleton job hands over, so that every click re-ticks the tree
instantly. A test checks that both agree
(`tests/studio/test_app.py`, ``test_gui_target_rules_agree_with_the_engine``).

Targets as text: ``q_proj, v_proj`` is a name list (exact names or dotted suffixes); anything with a
regex character (``* + ? [ ] ( ) { } | ^ $ \\``) is one full-match regular expression;
``all-linear`` is PEFT's keyword.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# The name rules themselves are core's (torch-free at import); this module adds what the GUI needs on top.
from core.targeting import closest_names as _closest_names
from core.targeting import layer_index

ALL_LINEAR = "all-linear"
_REGEX_CHARS = set("*+?[](){}|^$\\")


def parse_text(text: str) -> list[str] | str | None:
    """The targets a person typed: None (empty), a regex string, or a list of names."""
    text = text.strip()
    if not text:
        return None
    if text.lower() == ALL_LINEAR:
        return ALL_LINEAR
    if any(ch in _REGEX_CHARS for ch in text):
        return text
    return [part for part in re.split(r"[,\s]+", text) if part]


def format_targets(targets: list[str] | str | None) -> str:
    """The text field's form of ``target_modules``."""
    if targets is None:
        return ""
    if isinstance(targets, str):
        return targets
    return ", ".join(targets)


def regex_error(targets: list[str] | str | None) -> str | None:
    """Why a regex string does not compile (None if it does or is not a regex)."""
    if isinstance(targets, str) and targets != ALL_LINEAR:
        try:
            re.compile(targets)
        except re.error as exc:
            return f"not a valid regular expression: {exc}"
    return None


def entry_matches(entry: str, names: Iterable[str]) -> list[str]:
    """The names one list entry selects: the exact name or a dotted suffix."""
    return [n for n in names if n == entry or n.endswith("." + entry)]


def matched(
    targets: list[str] | str | None,
    names: Iterable[str],
    *,
    layers: list[int] | int | None = None,
    layers_pattern: str | list[str] | None = None,
    linear: Iterable[str] = (),
) -> set[str]:
    """The names ``targets`` selects among ``names`` (PEFT's rules; exclusions are not applied here).
    ``linear`` lists the Linear/Conv1D modules other than the output head, for ``all-linear``."""
    if not targets:
        return set()
    if targets == ALL_LINEAR:
        targets = sorted(linear)
    out: set[str] = set()
    if isinstance(targets, str):
        try:
            rx = re.compile(targets)
        except re.error:
            return set()
        return {n for n in names if rx.fullmatch(n)}
    wanted = targets
    for name in names:
        if name in wanted:
            out.add(name)
            continue
        if not any(name.endswith("." + e) for e in wanted):
            continue
        if layers is None or (isinstance(layers, list) and not layers):
            out.add(name)
            continue
        index = layer_index(name, layers_pattern)
        if index is not None and (index == layers if isinstance(layers, int) else index in layers):
            out.add(name)
    return out


def parameters_matched(entries: list[str] | None, keys: Iterable[str]) -> set[str]:
    """The parameter keys (``<module>.<parameter>``) a ``target_parameters`` list selects among ``keys``
    (PEFT's rule: a key equal to an entry or ending in ``'.' + entry``; no regex, no layers)."""
    return {k for e in entries or [] for k in entry_matches(e, keys)}


def parameter_entries(chosen: set[str], keys: list[str], kept: list[str] = ()) -> list[str] | None:
    """A short ``target_parameters`` list that selects exactly ``chosen`` among the expert weights ``keys``
    (e.g. ``model.layers.0.mlp.experts.gate_up_proj``), after ``kept`` (entries a person typed that select
    none of ``keys``; the tree leaves them alone). A ``<module leaf>.<parameter>`` suffix stands for all the
    keys it matches when they are all chosen (``experts.gate_up_proj``: every block); other keys are listed
    in full. None when nothing is left (the field's default: no parameters)."""
    out = list(kept)
    covered: set[str] = set()
    for key in keys:  # model order: gate_up_proj before down_proj, block 0 first
        if key not in chosen or key in covered:
            continue
        suffix = ".".join(key.split(".")[-2:])
        hits = set(entry_matches(suffix, keys))
        entry = suffix if hits <= chosen else key
        covered |= hits if entry == suffix else {key}
        if entry not in out:
            out.append(entry)
    return out or None


def unmatched_entries(targets: list[str] | str | None, names: list[str]) -> list[tuple[str, list[str]]]:
    """List entries (or a regex) that match no module, each with the closest real names."""
    if not targets or targets == ALL_LINEAR:
        return []
    if isinstance(targets, str):
        if regex_error(targets) or matched(targets, names):
            return []
        return [(targets, closest_names(targets, names))]
    return [(e, closest_names(e, names)) for e in targets if not entry_matches(e, names)]


def suffix_for(paths: list[str], names: list[str]) -> str | None:
    """The shortest dotted suffix that selects exactly ``paths`` among ``names`` (PEFT's list rule),
    or None when no suffix does (then the full names must be listed)."""
    want = set(paths)
    parts = paths[0].split(".")
    for k in range(1, len(parts) + 1):
        suffix = ".".join(parts[-k:])
        if set(entry_matches(suffix, names)) == want:
            return suffix
    return None


def compress(selected: set[str], groups: list[list[str]], names: list[str]) -> list[str]:
    """A short ``target_modules`` list that selects exactly ``selected``.

    ``groups`` are the tree's rows (each the real names one row stands for, e.g. q_proj of every
    block): a fully selected group becomes its suffix when one selects exactly that group; any
    other selected name is listed in full. Entries sharing a suffix merge (``q_proj`` once)."""
    entries: list[str] = []
    covered: set[str] = set()
    for paths in groups:
        if not paths or not set(paths) <= selected or set(paths) <= covered:
            continue
        suffix = suffix_for(paths, names)
        if suffix is None:
            continue
        if suffix not in entries:
            entries.append(suffix)
        covered |= set(paths)
    # Rows whose name is shared by several groups (q_proj in two block lists): try a common suffix.
    rest = sorted(selected - covered)
    if rest:
        by_leaf: dict[str, list[str]] = {}
        for name in rest:
            by_leaf.setdefault(name.rsplit(".", 1)[-1], []).append(name)
        for leaf, paths in by_leaf.items():
            if set(entry_matches(leaf, names)) == set(paths):
                entries.append(leaf)
            else:
                entries.extend(paths)
    return sorted(entries)


def closest_names(entry: str, names: list[str], n: int = 3) -> list[str]:
    """Real module names closest to ``entry`` (core's rule; the GUI shows three)."""
    return _closest_names(entry, names, n=n)


# ---- the same modules in another architecture ------------------------------------------------------
#
# A project's targets are names of one architecture (q_proj, v_proj: Llama); a person who switches
# the model to Bloom or GPT-2 means the same *roles* there (query_key_value, c_attn). Roles come from a
# module's own name and, where the name alone is ambiguous (GPT-2's c_proj, Bloom's dense), from its
# parent's (attention or MLP). The order of ROLE_ORDER is the order the suggestion lists them in.

ROLE_ORDER = ("q", "k", "v", "qkv", "o", "gate", "up", "down")
_ROLE_NAMES: dict[str, tuple[str, ...]] = {
    "q": ("q_proj", "query", "q_lin", "wq", "q"),
    "k": ("k_proj", "key", "k_lin", "wk", "k"),
    "v": ("v_proj", "value", "v_lin", "wv", "v"),
    "qkv": ("query_key_value", "c_attn", "qkv_proj", "wqkv", "qkv", "w_pack", "in_proj"),
    "o": ("o_proj", "out_proj", "out_lin", "wo", "o", "dense", "c_proj"),
    "gate": ("gate_proj", "w1", "gate_up_proj"),
    "up": ("up_proj", "dense_h_to_4h", "c_fc", "fc1", "fc_in", "w3", "lin1"),
    "down": ("down_proj", "dense_4h_to_h", "fc2", "fc_out", "w2", "lin2", "c_proj"),
}
_ATTENTION = re.compile(r"att", re.IGNORECASE)
_MLP = re.compile(r"mlp|feed_?forward|ffn", re.IGNORECASE)
# Instead of a role the new architecture lacks: separate q, k, v in place of a fused qkv and back;
# an MLP without a gate takes its up projection.
_FALLBACK = {"q": ("qkv",), "k": ("qkv",), "v": ("qkv",), "qkv": ("q", "k", "v"), "gate": ("up",), "up": ("gate",)}


def module_role(name: str) -> str | None:
    """The role of a module (or a targets entry) by its name: q, k, v, qkv, o (attention output),
    gate, up, down (MLP), or None. ``c_proj`` / ``dense`` are the attention output unless their
    parent is an MLP (GPT-2's ``mlp.c_proj`` is its down projection)."""
    parts = name.lower().split(".")
    leaf, parent = parts[-1], ".".join(parts[:-1])
    in_mlp = bool(_MLP.search(parent))
    in_attention = bool(_ATTENTION.search(parent))
    for role in ROLE_ORDER:
        if leaf in _ROLE_NAMES[role]:
            if role in ("q", "k", "v", "o") and len(leaf) <= 2 and not in_attention:
                continue  # a bare "q" / "o" outside attention is not a projection
            if role == "o" and leaf in ("dense", "c_proj") and in_mlp:
                return "down"
            if role == "down" and in_attention:
                return "o"
            return role
    return None


def equivalent_targets(targets: list[str] | str | None, names: list[str]) -> list[str] | None:
    """For a name list with entries that match no module of ``names`` (another architecture's
    names), the targets with each such entry replaced by the modules of the same role here
    (``q_proj, v_proj`` on Bloom: ``query_key_value``; on GPT-2: ``c_attn``), as the shortest
    suffixes that select them. None when every entry matches, or no role could be mapped."""
    if not isinstance(targets, list) or not targets:
        return None
    missing = [e for e in targets if not entry_matches(e, names)]
    if not missing:
        return None
    here: dict[str, dict[str, list[str]]] = {}  # role -> leaf name -> the module paths
    for name in names:
        role = module_role(name)
        if role is not None:
            leaf = name.rsplit(".", 1)[-1]
            key = f"{name.rsplit('.', 2)[-2]}.{leaf}" if "." in name else leaf
            here.setdefault(role, {}).setdefault(key, []).append(name)
    wanted: list[str] = []
    for entry in missing:
        role = module_role(entry)
        if role is None:
            continue
        for candidate in (role,) if role in here else _FALLBACK.get(role, ()):
            if candidate in here and candidate not in wanted:
                wanted.append(candidate)
    if not wanted:
        return None
    kept = [e for e in targets if e not in missing]
    out = list(kept)
    for role in ROLE_ORDER:
        if role not in wanted:
            continue
        for paths in here[role].values():
            suffix = suffix_for(paths, names) or paths[0]
            if suffix not in out:
                out.append(suffix)
    return out
