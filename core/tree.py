"""A model's module tree as data, for `adapter-studio inspect` and the GUI's tree widget.

`describe(model)` walks the modules once and returns a `Node` tree: per module its class, the facts a
person needs to choose targets (shapes), parameter counts and which adapter methods can target it.
Repeated blocks of a ``ModuleList`` are folded exactly as torch's ``print(model)`` folds them
(``(0-23): 24 x BloomBlock(...)``), so `render(node, counts=False)` reproduces ``repr(model)`` line for
line; with counts, each line that owns parameters ends in a comment such as ``  # 3.1M``.

Works on meta-device skeletons: only shapes are read, never values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from core.methods.registry import target_support

__all__ = ["Node", "describe", "render", "human_count"]

# How torch prints a module, which decides how we mirror it (see _style).
_MODULE, _LIST, _CUSTOM = "module", "list", "custom"


@dataclass
class Node:
    """One module of the tree (after folding: one representative of a run of identical blocks)."""

    name: str
    """Attribute name in the parent ("" for the root; "0" for the first block of a list)."""
    path: str
    """Qualified dotted name as in ``model.named_modules()`` ("" for the root)."""
    cls: str
    """Class name, e.g. ``Linear``."""
    facts: dict[str, Any]
    """Shape facts: in/out_features, nx/nf, num_embeddings/embedding_dim, normalized_shape, eps, ..."""
    own_params: int
    """Parameters held directly by this module (a weight tied to one seen earlier counts 0)."""
    total_params: int
    """Parameters of the whole subtree, each tensor once: at the root this equals
    ``sum(p.numel() for p in model.parameters())``. For a folded node: one block's count."""
    children: list[Node] = field(default_factory=list)
    support: dict[str, str | None] = field(default_factory=dict)
    """Method name -> None if the method can target this module, else why not."""
    repeat: tuple[int, int, int] | None = None
    """(first_index, last_index, count) when this node stands for ``count`` identical blocks."""
    repeat_params: int | None = None
    """For a folded node: the parameters of all ``count`` blocks together."""
    tied: dict[str, str] = field(default_factory=dict)
    """Parameter name -> qualified name of the parameter it shares storage with (seen earlier)."""
    extra_repr: str = ""
    """The module's ``extra_repr()`` text, e.g. ``in_features=1024, out_features=3072, bias=True``."""
    style: str = _MODULE
    """How torch prints this module: "module" (Module.__repr__), "list" (ModuleList's folding repr) or
    "custom" (the class overrides __repr__; `text` holds its repr verbatim)."""
    text: str = field(default="", repr=False, compare=False)
    """``repr(module)`` as torch prints it (used for folding and for custom reprs)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of this subtree (``text`` left out: `render` rebuilds it)."""
        return {
            "name": self.name,
            "path": self.path,
            "cls": self.cls,
            "facts": self.facts,
            "own_params": self.own_params,
            "total_params": self.total_params,
            "repeat": list(self.repeat) if self.repeat else None,
            "repeat_params": self.repeat_params,
            "tied": self.tied,
            "support": self.support,
            "extra_repr": self.extra_repr,
            "children": [child.to_dict() for child in self.children],
        }

    def walk(self):
        """Yield this node and every descendant, depth first (folded blocks once)."""
        yield self
        for child in self.children:
            yield from child.walk()


def describe(model: nn.Module) -> Node:
    """The module tree of ``model`` (any nn.Module, including meta-device skeletons)."""
    seen: dict[int, str] = {}  # id(parameter) -> qualified name of its first owner, for tied weights
    return _describe(model, name="", path="", seen=seen)


def render(node: Node, *, counts: bool = True) -> str:
    """The tree as ``print(model)`` prints it; with ``counts``, each line whose module holds
    parameters ends with ``  # <count>`` (folded blocks: ``# 24 x 12.6M = 302.3M``)."""
    return "\n".join(text + (f"  # {note}" if counts and note else "") for text, note in _lines(node))


def human_count(n: int) -> str:
    """A parameter count for people: 64, 2.0K, 3.1M, 559.2M, 70.6B."""
    for div, unit in ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "K")):
        if abs(n) >= div:
            return f"{n / div:.1f}{unit}"
    return str(n)


# --------------------------------------------------------------------------------------------------


def _style(module: nn.Module) -> str:
    method = type(module).__repr__
    if method is nn.Module.__repr__:
        return _MODULE
    if method is nn.ModuleList.__repr__:
        return _LIST
    return _CUSTOM


def _facts(module: nn.Module) -> dict[str, Any]:
    """Shape facts for the common layer types; the GUI shows them next to the name."""
    facts: dict[str, Any] = {}
    if isinstance(module, nn.Linear):
        facts.update(in_features=module.in_features, out_features=module.out_features, bias=module.bias is not None)
    elif type(module).__name__ == "Conv1D" and hasattr(module, "nx"):
        # transformers' Conv1D: a Linear with a transposed weight (nx inputs -> nf outputs).
        facts.update(nx=module.nx, nf=module.nf, bias=getattr(module, "bias", None) is not None)
    elif isinstance(module, nn.Embedding):
        facts.update(num_embeddings=module.num_embeddings, embedding_dim=module.embedding_dim)
        if module.padding_idx is not None:
            facts["padding_idx"] = module.padding_idx
    elif isinstance(module, (nn.LayerNorm, nn.RMSNorm)):
        facts["normalized_shape"] = list(module.normalized_shape)
        facts["eps"] = module.eps
    elif type(module).__name__.endswith("Norm"):
        # e.g. LlamaRMSNorm: not an nn.RMSNorm; its shape is its weight's.
        weight = getattr(module, "weight", None)
        if isinstance(weight, torch.Tensor):
            facts["normalized_shape"] = list(weight.shape)
        eps = getattr(module, "variance_epsilon", getattr(module, "eps", None))
        if isinstance(eps, (int, float)):
            facts["eps"] = eps
    elif isinstance(module, nn.Dropout):
        facts["p"] = module.p
    elif isinstance(module, nn.ModuleList):
        facts["length"] = len(module)
    params = list(module.parameters(recurse=False))
    if params:
        facts["dtype"] = str(params[0].dtype).removeprefix("torch.")
    return facts


def _describe(module: nn.Module, *, name: str, path: str, seen: dict[int, str]) -> Node:
    own = 0
    tied: dict[str, str] = {}
    for pname, param in module.named_parameters(recurse=False):
        qualified = f"{path}.{pname}" if path else pname
        first = seen.get(id(param))
        if first is None:
            seen[id(param)] = qualified
            own += param.numel()
        else:
            tied[pname] = first
    children = [
        _describe(child, name=key, path=f"{path}.{key}" if path else key, seen=seen)
        if child is not None
        else _none_node(key, f"{path}.{key}" if path else key)
        for key, child in module._modules.items()
    ]
    style = _style(module)
    node = Node(
        name=name,
        path=path,
        cls=type(module).__name__,
        facts=_facts(module),
        own_params=own,
        total_params=own + sum(c.total_params for c in children),
        children=children,
        support=target_support(module),
        tied=tied,
        extra_repr="" if style == _LIST else module.extra_repr(),
        style=style,
    )
    if style == _LIST:
        node.children = _fold(children)
    node.text = repr(module) if style == _CUSTOM else "\n".join(text for text, _ in _lines(node))
    return node


def _none_node(name: str, path: str) -> Node:
    # A submodule slot set to None: torch prints "(name): None"; nothing there to target.
    return Node(name=name, path=path, cls="None", facts={}, own_params=0, total_params=0, style=_CUSTOM, text="None")


def _fold(children: list[Node]) -> list[Node]:
    """Merge runs of consecutive children whose repr is identical, as ModuleList.__repr__ does."""
    folded: list[Node] = []
    for child in children:
        last = folded[-1] if folded else None
        if last is not None and last.text == child.text:
            first, _, count = last.repeat or (int(last.name), int(last.name), 1)
            last.repeat = (first, int(child.name), count + 1)
            last.repeat_params = (last.repeat_params or last.total_params) + child.total_params
            continue
        folded.append(child)
    return folded


def _note(node: Node) -> str:
    """The count comment of a node's first line ("" for modules without parameters)."""
    if node.repeat:
        return f"{node.repeat[2]} x {human_count(node.total_params)} = {human_count(node.repeat_params or 0)}"
    if node.tied and not node.total_params:
        return "0, tied to " + ", ".join(sorted(set(node.tied.values())))
    if node.total_params:
        tied = f" (+ tied {', '.join(sorted(set(node.tied.values())))})" if node.tied else ""
        return human_count(node.total_params) + tied
    return ""


def _indent(lines: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """torch's _addindent on all but the first line: blank lines stay empty."""
    head, *rest = lines
    return [head, *[("  " + text if text.strip() else "", note) for text, note in rest]]


def _lines(node: Node) -> list[tuple[str, str]]:
    """(text, note) per printed line of ``repr(module)``; the note is the count comment."""
    note = _note(node)
    if node.style == _CUSTOM:
        text_lines = node.text.split("\n")
        return [(text_lines[0], note), *[(line, "") for line in text_lines[1:]]]
    if node.style == _LIST:
        if not node.children:
            return [(node.cls + "()", note)]
        out = [(node.cls + "(", note)]
        for child in node.children:
            block = _lines(child)
            if child.repeat:
                first, last, count = child.repeat
                prefix = f"({first}-{last}): {count} x "
            else:
                prefix = f"({child.name}): "
            block = _indent([(prefix + block[0][0], block[0][1]), *block[1:]])
            out += [("  " + block[0][0], block[0][1]), *block[1:]]
        return [*out, (")", "")]
    extra = node.extra_repr.split("\n") if node.extra_repr else []
    if not node.children:
        if not extra:
            return [(node.cls + "()", note)]
        if len(extra) == 1:
            return [(f"{node.cls}({extra[0]})", note)]
    out = [(node.cls + "(", note), *[("  " + line, "") for line in extra]]
    for child in node.children:
        block = _lines(child)
        block = _indent([(f"({child.name}): " + block[0][0], block[0][1]), *block[1:]])
        out += [("  " + block[0][0], block[0][1]), *block[1:]]
    return [*out, (")", "")]
