"""An Ollama model folder: the GGUF file(s) and a ``Modelfile`` that ``ollama create NAME`` reads.

The Modelfile names the model GGUF (``FROM ./model.gguf``: the merged model, or the base when an
adapter is shipped), the LoRA adapter GGUF (``ADAPTER ./adapter.gguf``), the prompt format
(``TEMPLATE``, in Go template syntax) and the tokens that end a reply (``PARAMETER stop``).

The chat template is converted, not guessed: we render sample conversations with the tokenizer's own
Jinja template and accept a Go form only when the Jinja output equals that form's output for the same
messages (`chat_format`). ChatML (``<|im_start|>role\\n...<|im_end|>``, SmolLM2, Qwen) and Llama 3
(``<|start_header_id|>role<|end_header_id|>\\n\\n...<|eot_id|>``) are known; a default system prompt
the Jinja template inserts becomes the Modelfile's ``SYSTEM``. Any other template is left out (Ollama
then uses the chat template stored in the GGUF if it recognises it), and the result says so.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ExportError

CHATML_GO = (
    "{{- range .Messages }}<|im_start|>{{ .Role }}\n"
    "{{ .Content }}<|im_end|>\n"
    "{{ end }}<|im_start|>assistant\n"
)
LLAMA3_GO = (
    "{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n"
    "{{ .Content }}<|eot_id|>\n"
    "{{- end }}<|start_header_id|>assistant<|end_header_id|>\n\n"
)


def _chatml(messages: list[dict[str, str]]) -> str:
    return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages) + "<|im_start|>assistant\n"


def _llama3(messages: list[dict[str, str]]) -> str:
    return "".join(f"<|start_header_id|>{m['role']}<|end_header_id|>\n\n{m['content']}<|eot_id|>" for m in messages) + \
        "<|start_header_id|>assistant<|end_header_id|>\n\n"


# name -> (Go template, the same format rendered in Python, stop strings, a default-system pattern)
FORMATS: dict[str, tuple[str, Any, tuple[str, ...], str]] = {
    "chatml": (CHATML_GO, _chatml, ("<|im_start|>", "<|im_end|>"), r"<\|im_start\|>system\n(.*?)<\|im_end\|>\n"),
    "llama3": (LLAMA3_GO, _llama3, ("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"),
               r"<\|start_header_id\|>system<\|end_header_id\|>\n\n(.*?)<\|eot_id\|>"),
}

_SAMPLE = [
    {"role": "system", "content": "You answer briefly."},
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "Paris."},
    {"role": "user", "content": "And of Italy?"},
]


@dataclass
class ChatFormat:
    name: str
    template: str
    stops: tuple[str, ...]
    system: str | None = None
    """The default system prompt the Jinja template inserts when a conversation has none."""


def _render(tokenizer: Any, messages: list[dict[str, str]]) -> str | None:
    try:
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    except Exception:  # noqa: BLE001  a template that needs other inputs (tools, dates) is not one we convert
        return None
    bos, bos_id = getattr(tokenizer, "bos_token", None), getattr(tokenizer, "bos_token_id", None)
    adds_bos = bos_id is not None and tokenizer("a")["input_ids"][:1] == [bos_id]
    if adds_bos and isinstance(text, str) and text.startswith(bos):
        text = text[len(bos):]  # the tokenizer (and llama.cpp: tokenizer.ggml.add_bos_token) adds BOS itself
    return text if isinstance(text, str) else None


def chat_format(tokenizer: Any) -> ChatFormat | None:
    """The Go form of the tokenizer's chat template, checked by rendering (see the module docstring)."""
    if not getattr(tokenizer, "chat_template", None):
        return None
    for name, (go, python, stops, system_re) in FORMATS.items():
        if _render(tokenizer, _SAMPLE) != python(_SAMPLE):
            continue
        user_only = [_SAMPLE[1]]
        got = _render(tokenizer, user_only)
        if got == python(user_only):
            return ChatFormat(name, go, stops)
        m = re.match(system_re, got or "", re.S)
        if m and got == python([{"role": "system", "content": m.group(1)}, *user_only]):
            return ChatFormat(name, go, stops, system=m.group(1))
    return None


def _quote(text: str) -> str:
    if '"""' in text:
        raise ExportError('The chat template contains """, which a Modelfile cannot quote.')
    return f'"""{text}"""'


def modelfile_text(model_file: str, *, adapter_file: str | None = None, fmt: ChatFormat | None = None,
                   extra_stops: tuple[str, ...] = ()) -> str:
    lines = [f"FROM ./{model_file}"]
    if adapter_file:
        lines.append(f"ADAPTER ./{adapter_file}")
    if fmt is not None:
        lines.append(f"TEMPLATE {_quote(fmt.template)}")
        if fmt.system:
            lines.append(f"SYSTEM {_quote(fmt.system)}")
    stops = list(dict.fromkeys([*(fmt.stops if fmt else ()), *extra_stops]))
    lines += [f'PARAMETER stop "{s}"' for s in stops]
    return "\n".join(lines) + "\n"


@dataclass
class OllamaFolder:
    path: str
    modelfile: str
    files: list[str] = field(default_factory=list)
    chat_format: str | None = None
    notes: list[str] = field(default_factory=list)

    def create_command(self, name: str) -> list[str]:
        return ["ollama", "create", name, "-f", str(Path(self.path) / "Modelfile")]


def write_folder(folder: str | os.PathLike[str], tokenizer: Any, *, model_gguf: Path, adapter_gguf: Path | None = None,
                 move: bool = True) -> OllamaFolder:
    """Put the GGUF file(s) into ``folder`` (moved when ``move``, else copied) and write its Modelfile."""
    folder = Path(folder).expanduser().absolute()
    folder.mkdir(parents=True, exist_ok=True)
    place = shutil.move if move else shutil.copy2
    files = []
    for src, name in ((model_gguf, "model.gguf"), (adapter_gguf, "adapter.gguf")):
        if src is None:
            continue
        if Path(src).resolve() != (folder / name).resolve():
            place(str(src), str(folder / name))
        files.append(name)
    fmt = chat_format(tokenizer)
    eos = getattr(tokenizer, "eos_token", None)
    extra = (eos,) if isinstance(eos, str) and eos else ()
    text = modelfile_text("model.gguf", adapter_file="adapter.gguf" if adapter_gguf else None, fmt=fmt, extra_stops=extra)
    (folder / "Modelfile").write_text(text, encoding="utf-8")
    notes = [] if fmt else ["The chat template is neither ChatML nor Llama 3; the Modelfile has no TEMPLATE, so Ollama "
                            "uses the GGUF's chat template if it recognises it."]
    return OllamaFolder(str(folder), text, [*files, "Modelfile"], fmt.name if fmt else None, notes)


def ollama_on_path() -> str | None:
    return shutil.which("ollama")


def create(folder: str | os.PathLike[str], name: str, *, timeout: float = 600.0) -> str:
    """Run ``ollama create NAME -f Modelfile`` in ``folder``; its output. `ExportError` when it fails."""
    exe = ollama_on_path()
    if exe is None:
        raise ExportError(f"ollama is not on PATH; run it yourself: ollama create {name} -f {Path(folder) / 'Modelfile'}")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:/-]*", name):
        raise ExportError(f"{name!r} is not an Ollama model name (letters, digits, '.', '_', '-', ':' and '/').")
    proc = subprocess.run([exe, "create", name, "-f", "Modelfile"], cwd=str(folder), capture_output=True, text=True,
                          timeout=timeout)
    out = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0:
        raise ExportError(f"ollama create {name} failed (exit {proc.returncode}): {out[-2000:]}")
    return out
