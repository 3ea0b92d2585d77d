"""How the processes of one run agree (several under ``torchrun`` / ``accelerate launch``; alone, all of
this is trivial): stop and pause decided together at a step boundary (`Agreement`), and a failing
process's reason left beside the checkpoints (`note_failure`) for process 0 to report (`peer_failure`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from core.protocol import Failed

PEER_FAILURE_WAIT_S = 3.0
"""How long process 0 waits for a failed peer's note (its reason) after losing the connection to it."""


class Agreement:
    """Stop and pause, decided together at a step boundary: one tiny all-reduce of ``(stop, pause)``
    (a flag set on any process is set for all), so that every process checkpoints, stops or pauses
    after the same step. Commands reach process 0 only (its stdin, the project file), SIGTERM any."""

    def __init__(self, stop: Callable[[], bool], pause: Callable[[], bool], accelerator: Any) -> None:
        self.stop, self.pause, self.accelerator = stop, pause, accelerator

    def __call__(self) -> tuple[bool, bool]:
        stop, pause = bool(self.stop()), bool(self.pause())
        if self.accelerator.num_processes == 1:
            return stop, pause
        flags = torch.tensor([float(stop), float(pause)], device=self.accelerator.device)
        flags = self.accelerator.reduce(flags, reduction="sum")
        return bool(flags[0] > 0), bool(flags[1] > 0)


def failure_note_path(output_dir: Path, rank: int) -> Path:
    """Where process ``rank`` leaves its failure (``output_dir`` is shared by every process of a run)."""
    return output_dir / f".process-{rank}-failed.json"


def note_failure(output_dir: str | os.PathLike[str], rank: int, failed: Failed) -> None:
    """Leave process ``rank``'s failure where process 0 looks for it (``output_dir``, shared by all
    processes of a run), so that the run's record says why it failed. Never raises."""
    try:
        path = failure_note_path(Path(output_dir), rank)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"reason": failed.reason, "step": failed.step, "kind": failed.kind, "detail": failed.detail}))
        os.replace(tmp, path)
    except OSError:
        pass


LOST_PEER_SIGNS = ("Connection closed by peer", "Connection reset by peer", "Broken pipe", "NCCL", "ProcessGroup", "gloo")


def looks_like_lost_peer(exc: BaseException | str) -> bool:
    """A collective that failed because another process went away (crashed, killed, exited)."""
    if isinstance(exc, BaseException) and isinstance(exc, getattr(torch.distributed, "DistError", ())):
        return True
    return any(sign in str(exc) for sign in LOST_PEER_SIGNS)


def peer_failure(output_dir: Path, world: int, exc: BaseException, own: Failed, *, since: float) -> Failed:
    """Process 0's failure as the run should record it: the failing peer's reason when process 0 only
    lost its connection to that peer (waits up to `PEER_FAILURE_WAIT_S` for the peer's note)."""
    if not looks_like_lost_peer(exc):
        return own
    deadline = time.monotonic() + PEER_FAILURE_WAIT_S
    while True:
        for r in range(1, world):
            path = failure_note_path(output_dir, r)
            try:
                if path.stat().st_mtime < since - 1:
                    continue  # left by an earlier launch
                note = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if looks_like_lost_peer(str(note.get("reason"))):
                continue  # that process too only lost a peer: not the cause
            return Failed(
                reason=f"Process {r} failed: {note.get('reason')}", step=note.get("step") or own.step,
                detail=f"{note.get('detail', '')}\n--- process 0 ---\n{own.detail}", kind=note.get("kind") or "error",
                checkpoint=own.checkpoint,
            )
        if time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    at = f" at step {own.step}" if own.step else ""
    return dataclasses.replace(own, reason=f"Training failed{at}: another process of this run stopped answering "
                               f"(it crashed or was killed; its log says why): {exc}")
