"""An automatic judge for blind A/B comparisons, through any OpenAI-compatible chat endpoint.

A local llama.cpp server (``llama-server``: ``http://127.0.0.1:8080/v1``), Ollama
(``http://127.0.0.1:11434/v1``) or a hosted API: ``POST {url}/chat/completions`` with the judge prompt,
temperature 0. Standard library only (urllib), no torch, no Qt.

Position bias (judges prefer the first answer, or the second) is controlled by asking **both orders**:
answer A first, then answer B first. A model wins a prompt only when both orders pick it; when they
disagree the prompt counts as a tie.

The API key never goes into the project file: it is read from ``ADAPTER_STUDIO_JUDGE_KEY`` or from the
file `key_path` (in the user's config folder, written with permissions 0600 by `save_key`), like
``huggingface_hub`` keeps its token.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import RequestError

KEY_ENV = "ADAPTER_STUDIO_JUDGE_KEY"

DEFAULT_PROMPT = """You are judging two answers to the same prompt. Decide which answer is better: correct,
answers what was asked, and is no longer than needed. A reference answer is given when there is one.

Prompt:
{prompt}

Reference answer:
{reference}

Answer 1:
{first}

Answer 2:
{second}

Reply with exactly one word: 1, 2, or tie."""
"""The judge prompt; ``{prompt}``, ``{reference}``, ``{first}`` and ``{second}`` are filled in. Shown
and editable in the studio."""


class JudgeError(RequestError):
    """The judge endpoint could not be reached or answered something that is not a verdict."""


@dataclass
class Judge:
    """Where the judge is: ``url`` the API's base (``.../v1``), ``model`` the name the server knows."""

    url: str
    model: str
    prompt: str = DEFAULT_PROMPT
    timeout_s: float = 120.0

    def ask(self, prompt: str, reference: str, first: str, second: str, *, key: str | None = None) -> str:
        """One question, one order: ``"1"``, ``"2"`` or ``"tie"``."""
        try:
            text = self.prompt.format(prompt=prompt, reference=reference or "(none)", first=first, second=second)
        except (KeyError, IndexError, ValueError) as exc:
            raise JudgeError(f"The judge prompt has a placeholder other than {{prompt}}, {{reference}}, {{first}}, "
                             f"{{second}} ({exc}); write literal braces as {{{{ and }}}}.") from None
        body = {"model": self.model, "messages": [{"role": "user", "content": text}], "temperature": 0, "max_tokens": 8}
        url = self.url.rstrip("/") + "/chat/completions"
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                reply = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:300]
            raise JudgeError(f"The judge at {url} answered HTTP {exc.code} ({exc.reason}): {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise JudgeError(f"The judge at {url} cannot be reached ({reason}). Is the server running?") from None
        except json.JSONDecodeError:
            raise JudgeError(f"The judge at {url} did not answer with JSON; is it an OpenAI-compatible endpoint?") from None
        try:
            content = reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise JudgeError(f"The judge at {url} answered without choices[0].message.content: {str(reply)[:300]}") from None
        return parse_verdict(content)


def parse_verdict(content: str) -> str:
    """The judge's reply as ``"1"``, ``"2"`` or ``"tie"`` (its first such word); `JudgeError` otherwise."""
    match = re.search(r"\b(1|2|tie)\b", content.strip().lower())
    if match is None:
        raise JudgeError(f"The judge replied {content[:200]!r}, not 1, 2 or tie; make the prompt ask for one word.")
    return match.group(1)


def judge_pair(judge: Judge, prompt: str, reference: str, answer_a: str, answer_b: str, *,
               key: str | None = None) -> dict[str, Any]:
    """Ask both orders; ``winner`` is ``"a"`` / ``"b"`` when both orders agree, else ``"tie"``.
    ``orders`` keeps the raw verdicts: (A shown first, B shown first)."""
    a_first = judge.ask(prompt, reference, answer_a, answer_b, key=key)
    b_first = judge.ask(prompt, reference, answer_b, answer_a, key=key)
    as_model_1 = {"1": "a", "2": "b", "tie": "tie"}[a_first]
    as_model_2 = {"1": "b", "2": "a", "tie": "tie"}[b_first]
    winner = as_model_1 if as_model_1 == as_model_2 else "tie"
    return {"winner": winner, "orders": [a_first, b_first]}


def judge_all(judge: Judge, prompts: Sequence[dict[str, Any]], answers_a: Sequence[str], answers_b: Sequence[str], *,
              key: str | None = None, progress: Callable[[int, int], None] | None = None) -> list[dict[str, Any]]:
    """A verdict per prompt (`judge_pair`), as `core.store.Project.add_comparison` takes them."""
    out = []
    for i, (p, a, b) in enumerate(zip(prompts, answers_a, answers_b)):
        verdict = judge_pair(judge, p["prompt"], p.get("reference", ""), a, b, key=key)
        out.append({"prompt_index": i, "prompt": p["prompt"], "answer_a": a, "answer_b": b, **verdict})
        if progress is not None:
            progress(i + 1, len(prompts))
    return out


# --------------------------------------------------------------------------------------------------
# The key: outside the project file


def key_path() -> Path:
    """``$XDG_CONFIG_HOME/adapter-studio/judge_key`` (``~/.config/...`` by default)."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "adapter-studio" / "judge_key"


def load_key() -> str | None:
    """The judge's API key: ``ADAPTER_STUDIO_JUDGE_KEY``, else the key file, else None (a local server)."""
    if os.environ.get(KEY_ENV):
        return os.environ[KEY_ENV]
    path = key_path()
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def save_key(key: str) -> Path:
    """Write the key to `key_path`, readable by this user only (0600); an empty key removes the file."""
    path = key_path()
    if not key.strip():
        path.unlink(missing_ok=True)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key.strip() + "\n")
    os.chmod(path, 0o600)
    return path
