"""``adapter-studio <command>``: the engine without the GUI.

Each subcommand is one ``_add_<name>(subparsers)`` function that declares its arguments and sets
``handler``; `COMMANDS` lists them, so adding a command is one function and one line.

Errors a person can fix (a bad model reference, setting, dataset or project file) print their message
to stderr as written (not hard-wrapped, so a path in it stays whole and copyable; the terminal wraps)
and exit with status 2, without a traceback; a training run that fails exits with 1 after
printing its reason. ``--debug`` (before or after the command) shows tracebacks and the worker's log.

Commands: ``new``, ``train``, ``runs``, ``eval``, ``export``, ``combine``, ``inspect``, ``pull``, ``demo``.

``train`` runs the training worker (`core.worker`) as a child process in its own session and draws
its protocol lines as a progress bar. A child, not an in-process loop, because it is exactly what the
GUI runs (one code path, one set of tests), a crash or an out-of-memory kill takes the worker down
but not the CLI (which then reports the run as failed or interrupted), and the run can outlive the
terminal: the first Ctrl-C asks the worker to stop (checkpoint, then exit), the second leaves it
training in the background (``adapter-studio runs`` shows it; its stderr goes to
``<artifacts>/run-<id>/worker.log``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from core.defaults import DEFAULT_MODEL
from core.errors import RequestError, explain
from core.models import BUILTINS
from core.runs import create_project, export_run, find_run, prepare_run, worker_command, worker_env

EXIT_USAGE = 2  # like argparse: the person must change something in what they asked for
EXIT_FAILED = 1  # a run failed (its reason was printed)
EXIT_INTERRUPTED = 130

DEMO_MODEL = DEFAULT_MODEL  # the model of the studio's first project too
DEMO_PROJECT = "adapter-studio-demo.adapterstudio"
ASSETS = Path(__file__).resolve().parent.parent / "assets"

CliError = RequestError  # the name this module's callers know; `core.errors` holds the class


def _cmd_inspect(args: argparse.Namespace) -> int:
    # Imported here so `adapter-studio --help` stays fast (torch and transformers load in these).
    from core.models import skeleton
    from core.tree import describe, render

    model = skeleton(args.model, trust_remote_code=args.trust_remote_code)
    node = describe(model)
    if args.json:
        json.dump(node.to_dict(), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print(render(node, counts=not args.no_counts))
    return 0


def _add_inspect(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "inspect",
        help="print a model's module tree (no weights are loaded)",
        description="Print the module tree of MODEL as print(model) shows it, with parameter counts. "
        "Only the config is read, so any size is instant.",
        epilog="built-in models:\n" + "\n".join(f"  {name:<22} {text}" for name, text in BUILTINS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "model",
        metavar="MODEL",
        help="a model folder, a .gguf file, a config.json, a cached hub id or a built-in name",
    )
    parser.add_argument("--json", action="store_true", help="print the tree as JSON (for tools)")
    parser.add_argument("--no-counts", action="store_true", help="omit the parameter counts")
    parser.add_argument(
        "--trust-remote-code", action="store_true", help="allow the model's own Python code (only if you trust it)"
    )
    parser.set_defaults(handler=_cmd_inspect)


# --------------------------------------------------------------------------------------------------
# new


def _project_path(text: str) -> Path:
    path = Path(text)
    return path if path.suffix else path.with_name(path.name + __import__("core.store").store.PROJECT_SUFFIX)


def _quantize_sets(choice: str | None) -> list[str]:
    """``--quantize 8bit|4bit`` as the training setting it stands for (``--set`` may refine it after)."""
    return [] if choice in (None, "none") else [f"train.base_precision={choice}"]


def _cmd_new(args: argparse.Namespace) -> int:
    path, summary = create_project(
        _project_path(args.project), model=args.model, method=args.method, dataset=args.dataset,
        targets=args.targets, data_format=args.format, sets=_quantize_sets(args.quantize) + (args.set or []),
    )
    print(f"Created {path}: {summary}.")
    print(f"Train it with: adapter-studio train {path}")
    return 0


def _add_new(subparsers: argparse._SubParsersAction) -> None:
    parser = _subcommand(
        subparsers, "new", _cmd_new, help="create a project file",
        description="Create a project file (settings in SQLite, artifacts in a folder beside it) with the "
        "method's tested defaults; --set changes any setting.",
        epilog="examples:\n  adapter-studio new facts --model smollm2-135m-instruct --method lora "
        "--targets q_proj,v_proj --dataset facts.jsonl --set r=8 --set max_steps=100",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("project", metavar="PROJECT", help="the project file to create (.adapterstudio is added if there is no suffix)")
    parser.add_argument("--model", required=True, help="model reference (see `adapter-studio inspect --help`)")
    parser.add_argument("--method", default="lora", help="adapter method: lora, adalora, ia3, prompt_tuning, ... (default lora)")
    parser.add_argument("--targets", help="comma-separated modules to adapt, or all-linear (default: the method's)")
    parser.add_argument("--dataset", required=True, help="a .jsonl/.json/.csv/.parquet file or a save_to_disk folder")
    parser.add_argument("--format", help="dataset format: prompt_completion, chat, text (default: detected)")
    parser.add_argument("--quantize", choices=("none", "8bit", "4bit"), default=None,
                        help="hold the frozen base in 8-bit or 4-bit (QLoRA, needs bitsandbytes); finer options with "
                        "--set quant_type=fp4, double_quant=false, compute_dtype=bfloat16 (default none: float32)")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="any method, data or training setting, e.g. r=8, max_length=256, train.max_steps=100 (repeatable)")


# --------------------------------------------------------------------------------------------------
# train


class _Progress:
    """A one-line progress bar on a terminal; on anything else, a line every ~5 % of the run."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.total, self.start, self.last_printed = 0, 0, -1
        self.eval_loss: float | None = None
        self.width = 28

    def started(self, ev: Any) -> None:
        self.total, self.start = ev.total_steps, ev.start_step
        where = f" from step {ev.start_step}" if ev.start_step else ""
        params = f", {ev.trainable_params:,d} trainable parameters" if ev.trainable_params else ""
        self.line(f"training {ev.total_steps} steps{where} on {ev.device or 'cpu'}{params}", final=True)

    def step(self, ev: Any) -> None:
        total = max(self.total, 1)
        done = min(ev.step / total, 1.0)
        bar = "#" * int(done * self.width) + "-" * (self.width - int(done * self.width))
        eval_part = f"  eval {self.eval_loss:.4f}" if self.eval_loss is not None else ""
        eta = _clock(ev.eta_s) if ev.eta_s is not None else "?"
        text = f"[{bar}] {ev.step}/{self.total}  loss {ev.loss:.4f}{eval_part}  ETA {eta}"
        every = max(1, self.total // 20)
        if self.tty or ev.step % every == 0 or ev.step == self.total:
            self.line(text)

    def log(self, text: str) -> None:
        self.line(text, final=True)

    def line(self, text: str, final: bool = False) -> None:
        if self.tty:
            self.stream.write("\r\x1b[K" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def end(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def train_run(project_path: Path, run_id: int, *, debug: bool = False, progress: _Progress | None = None) -> int:
    """Run the worker on a run as a child process and show its progress; returns the exit status."""
    from core import protocol
    from core.store import Project

    progress = progress or _Progress()
    with Project.open(project_path) as project:
        log_dir = project.run(run_id).checkpoint_dir
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / "worker.log"
    env = worker_env()
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            worker_command(project_path, run_id), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=None if debug else log, env=env, text=True, encoding="utf-8", start_new_session=True,
        )
    final: Any = None
    interrupts = 0

    def on_interrupt(signum: int, frame: Any) -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts == 1:
            progress.log("Stopping after this step (a checkpoint is written). Press Ctrl-C again to leave it running in the background.")
            try:
                proc.stdin.write("stop\n")
                proc.stdin.flush()
            except OSError:
                pass
        else:
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        for line in proc.stdout:
            try:
                ev = protocol.decode(line)
            except protocol.ProtocolError:
                continue
            if isinstance(ev, protocol.Started):
                progress.started(ev)
            elif isinstance(ev, protocol.Step):
                progress.step(ev)
            elif isinstance(ev, protocol.Eval):
                progress.eval_loss = ev.eval_loss
            elif isinstance(ev, protocol.Samples) and ev.samples:
                from core.evaluate import summarize

                score = summarize(ev.samples)
                progress.log(f"{'base model' if ev.step == 0 else f'step {ev.step}'}: exact match {score['exact_match']:.0%}, "
                             f"contains {score['contains']:.0%}, F1 {score['f1']:.2f} on {score['n']} evaluation prompts")
            elif isinstance(ev, protocol.Log) and ev.level in ("warning", "error"):
                progress.log(f"{ev.level}: {ev.message}")
            elif isinstance(ev, protocol.Log) and debug:
                progress.log(ev.message)
            elif isinstance(ev, (protocol.Finished, protocol.Failed)):
                final = ev
        proc.wait()
    except KeyboardInterrupt:
        progress.end()
        print(f"Run {run_id} goes on in the background (process {proc.pid}); `adapter-studio runs {project_path}` "
              f"shows it, `kill {proc.pid}` stops it with a checkpoint.", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGINT, previous)
    progress.end()
    if isinstance(final, protocol.Finished):
        parts = [f"run {run_id} {final.status} at step {final.step}"]
        if final.loss is not None:
            parts.append(f"loss {final.loss:.4f}")
        if final.eval_loss is not None:
            parts.append(f"eval loss {final.eval_loss:.4f}")
        print(", ".join(parts) + (f"; checkpoint {final.checkpoint}" if final.checkpoint else ""))
        return 0
    if isinstance(final, protocol.Failed):
        print(f"adapter-studio: run {run_id} failed: {final.reason}", file=sys.stderr)
        if debug and final.detail:
            print(final.detail, file=sys.stderr)
        elif final.detail:
            print(f"(details: adapter-studio runs {project_path} --run {run_id}, or rerun with --debug)", file=sys.stderr)
        return EXIT_FAILED
    print(f"adapter-studio: the worker for run {run_id} ended unexpectedly (exit status {proc.returncode}); "
          f"its log is {log_path}.", file=sys.stderr)
    return EXIT_FAILED


def _cmd_train(args: argparse.Namespace) -> int:
    from core.store import Project

    path = Path(args.project)
    with Project.open(path) as project:
        run_id = prepare_run(project, steps=args.steps, resume=args.resume)
    return train_run(path, run_id, debug=args.debug)


def _add_train(subparsers: argparse._SubParsersAction) -> None:
    parser = _subcommand(
        subparsers, "train", _cmd_train, help="train a project (a new run, or resume one)",
        description="Start a training run of PROJECT in a worker process and show its progress. Ctrl-C stops "
        "it with a checkpoint; a second Ctrl-C leaves it running in the background.",
    )
    parser.add_argument("project", metavar="PROJECT", help="the project file")
    parser.add_argument("--steps", type=int, help="optimizer steps to train (default: the project's max_steps)")
    parser.add_argument("--resume", type=int, metavar="RUN", help="continue run RUN from its last checkpoint")


# --------------------------------------------------------------------------------------------------
# runs


def _cmd_runs(args: argparse.Namespace) -> int:
    from core.store import Project

    with Project.open(args.project, readonly=True) as project:
        if args.run is not None:
            run = find_run(project, args.run)
            _print_run_detail(project, run)
            return 0
        runs = project.runs()
        if args.json:
            out = []
            for run in runs:
                row = {k: getattr(run, k) for k in ("id", "name", "status", "step", "total_steps", "loss", "eval_loss",
                                                    "started", "ended", "error", "pid")}
                row["checkpoint"] = str(project.last_checkpoint(run.id) or "") or None
                out.append(row)
            json.dump(out, sys.stdout, indent=1)
            print()
            return 0
        if not runs:
            print(f"{project.path.name}: no runs yet (start one with `adapter-studio train {args.project}`).")
            return 0
        print(f"{'run':>4}  {'status':<11} {'steps':>11}  {'loss':>8}  {'eval':>8}  {'started':<16}  {'time':>8}")
        for run in runs:
            steps = f"{run.step}/{run.total_steps or '?'}"
            started = time.strftime("%Y-%m-%d %H:%M", time.localtime(run.started)) if run.started else "-"
            end = run.ended or (time.time() if run.alive else run.heartbeat)
            took = _clock(end - run.started) if run.started and end else "-"
            loss = f"{run.loss:.4f}" if run.loss is not None else "-"
            ev = f"{run.eval_loss:.4f}" if run.eval_loss is not None else "-"
            print(f"{run.id:>4}  {run.status:<11} {steps:>11}  {loss:>8}  {ev:>8}  {started:<16}  {took:>8}")
            if run.status == "failed" and run.error:
                print(textwrap.indent(run.error, "      "))
            if run.status == "interrupted":
                print(f"      the worker died; continue with: adapter-studio train {args.project} --resume {run.id}")
        exports = project.exports()
        if exports:
            print("exports:")
        for row in exports:  # every export, each with what checked it
            detail = row["detail"] or {}
            checks = detail.get("checks") or [detail]
            how = "checked in llama.cpp" if any(c.get("checked_by") == "llama.cpp" for c in checks) else "verified"
            gguf_type = f" {detail['gguf_type']}" if detail.get("gguf_type") else ""
            print(f"  run {row['run_id']}  {row['kind']}{gguf_type}  {row['path']}  "
                  f"{how if row['verified'] else 'not verified'}")
        if project.readonly and "newer" in (project.readonly_reason or ""):
            print(project.readonly_reason or "", file=sys.stderr)
    return 0


def _print_run_detail(project: Any, run: Any) -> None:
    print(f"run {run.id} ({run.name}): {run.status}, step {run.step}/{run.total_steps or '?'}")
    print(f"  model {run.config.model}, method {run.config.method}, checkpoints in {run.checkpoint_dir}")
    last = project.last_checkpoint(run.id)
    if last:
        print(f"  last checkpoint: {last}")
    if run.error:
        print(f"  error: {run.error}")
        if run.error_detail:
            print(textwrap.indent(run.error_detail.rstrip(), "    "))
    for log in project.logs(run.id)[-10:]:
        print(f"  [{log['level']}] {log['message']}")


def _add_runs(subparsers: argparse._SubParsersAction) -> None:
    parser = _subcommand(
        subparsers, "runs", _cmd_runs, help="list a project's runs",
        description="List the runs of PROJECT with their status; a run whose worker died shows as interrupted.",
    )
    parser.add_argument("project", metavar="PROJECT", help="the project file")
    parser.add_argument("--run", type=int, metavar="ID", help="details of one run (error, traceback, log)")
    parser.add_argument("--json", action="store_true", help="print the runs as JSON (for tools)")


# --------------------------------------------------------------------------------------------------
# eval


def _cmd_eval(args: argparse.Namespace) -> int:
    from core.evaluate import METRIC_LABELS, METRICS, choose_checkpoint, evaluate_file, load_for_eval
    from core.store import Project

    with Project.open(args.project, readonly=True) as project:
        if args.base:
            settings, checkpoint, what = project.settings(), None, "the base model"
        else:
            runs = project.runs()
            if args.run is None and not runs:
                raise CliError(f"{project.path.name} has no runs yet; give --base to score the base model.")
            run = find_run(project, args.run) if args.run is not None else runs[-1]
            settings = run.config
            checkpoint = choose_checkpoint(project, run, args.checkpoint, args.metric)
            what = f"run {run.id} ({checkpoint.name})"
    data_path = Path(args.data).expanduser().absolute()
    max_new = args.max_new_tokens or int(settings.training.get("eval_max_new_tokens") or 32)
    print(f"Scoring {what} of {settings.model} on {data_path.name} ...", file=sys.stderr)
    model, tokenizer = load_for_eval(settings.model, checkpoint)
    data = {**settings.data, "completion_column": args.reference} if args.reference else settings.data
    summary, rows = evaluate_file(model, tokenizer, data, str(data_path), max_new_tokens=max_new, limit=args.limit)
    if args.json:
        out = {**summary, "model": settings.model, "checkpoint": str(checkpoint) if checkpoint else None}
        if args.samples:
            out["samples"] = rows
        json.dump(out, sys.stdout, indent=1, ensure_ascii=False)
        print()
        return 0
    print(f"{what}, {summary['n']} prompts from {data_path.name}:")
    for metric in METRICS:
        print(f"  {METRIC_LABELS[metric]:<12} {summary[metric]:6.1%}")
    if args.samples:
        for row in rows:
            print(f"\n  prompt    {row['prompt']!r}\n  reference {row['reference']!r}\n  answer    {row['output']!r}")
    return 0


def _add_eval(subparsers: argparse._SubParsersAction) -> None:
    parser = _subcommand(
        subparsers, "eval", _cmd_eval, help="score a run's checkpoint (or the base model) on a data file",
        description="Answer every record of FILE greedily, with prompts formatted exactly as the run's training "
        "formatted them (chat template or plain), and score the answers against the references: exact match "
        "(case, whitespace and trailing punctuation ignored), contains, token F1 and ROUGE-L, as fractions 0-1.",
    )
    parser.add_argument("project", metavar="PROJECT", help="the project file")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--run", type=int, metavar="N", help="the run to score (default: the latest)")
    which.add_argument("--base", action="store_true", help="score the project's base model, without an adapter")
    parser.add_argument("--checkpoint", metavar="STEP", help="a checkpoint step, 'last' (default) or 'best'")
    parser.add_argument("--metric", default="eval_loss", choices=("eval_loss", "exact_match", "contains", "f1", "rouge_l"),
                        help="what --checkpoint best ranks by (default eval_loss)")
    parser.add_argument("--data", required=True, metavar="FILE", help="records in any format training reads")
    parser.add_argument("--max-new-tokens", type=int, metavar="N", help="longest answer (default: the run's eval_max_new_tokens)")
    parser.add_argument("--limit", type=int, metavar="N", help="only the first N records")
    parser.add_argument("--reference", metavar="COLUMN", help="score against this column (prompt/completion records; "
                        "default: the completion column), e.g. a short answer inside a longer completion")
    parser.add_argument("--samples", action="store_true", help="also print each prompt, reference and answer")
    parser.add_argument("--json", action="store_true", help="print JSON: exact_match, contains, f1, rouge_l, n")


# --------------------------------------------------------------------------------------------------
# export


def _cmd_export(args: argparse.Namespace) -> int:
    from core.store import Project

    with Project.open(args.project) as project:
        if args.run is not None:
            run = find_run(project, args.run)
        else:
            done = [r for r in project.runs() if project.last_checkpoint(r.id)]
            if not done:
                raise CliError(f"{project.path.name} has no run with a checkpoint yet; train first.")
            run = done[-1]
        if args.checkpoint is None:
            checkpoint = project.last_checkpoint(run.id)
            if checkpoint is None:
                raise CliError(f"run {run.id} has no checkpoint to export.")
        else:
            from core.evaluate import choose_checkpoint

            checkpoint = choose_checkpoint(project, run, args.checkpoint, args.metric)
        if args.gguf or args.gguf_adapter or args.ollama:
            return _export_gguf(args, project, run, checkpoint)
        kind = "merged" if args.merged else "serving-adapter" if args.serving_compatible else "adapter"
        dest = Path(args.merged or args.serving_compatible or args.adapter).expanduser().absolute()
        if dest.exists() and not (dest.is_dir() and not any(dest.iterdir())):
            raise CliError(f"{dest} already exists and is not empty; choose a new folder.")
        what = {"merged": "a merged model", "adapter": "an adapter", "serving-adapter": "a serving-compatible adapter"}
        print(f"Exporting run {run.id} ({checkpoint.name}) as {what[kind]} to {dest} ...", file=sys.stderr)
        result = export_run(run.config.model, checkpoint, dest, merged=(kind == "merged"), training=run.config.training,
                            serving=(kind == "serving-adapter"))
        detail = {"max_abs_diff": result.max_abs_diff, "bytes": result.bytes, "files": len(result.files)}
        if not project.readonly:
            project.add_export(run.id, kind, result.path, checkpoint=checkpoint, verified=True, detail=detail)
    print(f"Exported run {run.id} to {result.path} ({result.bytes / 2**20:.1f} MiB); reloaded and checked against "
          f"the adapter model: largest logit difference {result.max_abs_diff:.2e}.")
    if kind == "serving-adapter":  # what it was made for: say which servers load it as written
        from core.serving import check_folder

        for verdict in check_folder(result.path)[1:]:  # vLLM, TGI / LoRAX (llama.cpp reads GGUF, not this folder)
            print(verdict.line())
    return 0


def _export_gguf(args: argparse.Namespace, project: Any, run: Any, checkpoint: Path) -> int:
    """``--gguf`` / ``--gguf-adapter`` / ``--ollama``: written, checked in llama.cpp, recorded (core.gguf_export)."""
    from core.gguf_export import export_checkpoint

    target, dest = (("gguf", args.gguf) if args.gguf else ("gguf-adapter", args.gguf_adapter) if args.gguf_adapter
                    else ("ollama", args.ollama))
    dest = Path(dest).expanduser().absolute()
    what = {"gguf": f"a merged {args.gguf_type} GGUF", "gguf-adapter": "a LoRA adapter GGUF",
            "ollama": "an Ollama folder"}[target]
    print(f"Exporting run {run.id} ({checkpoint.name}) as {what} to {dest} ...", file=sys.stderr)
    result = export_checkpoint(run.config.model, checkpoint, dest, target=target, gguf_type=args.gguf_type,
                               ollama_name=args.ollama_name, ollama_adapter=args.ollama_adapter)
    if not project.readonly:
        project.add_export(run.id, result.kind, result.path, checkpoint=checkpoint, verified=True, detail=result.detail)
    print(result.message)
    return 0


def _add_export(subparsers: argparse._SubParsersAction) -> None:
    parser = _subcommand(
        subparsers, "export", _cmd_export, help="export a run as a merged model or a PEFT adapter",
        description="Export the last checkpoint of a run (default: the latest run that has one). The result is "
        "written to a temporary folder, reloaded and compared with the adapter model, then moved into place.",
    )
    parser.add_argument("project", metavar="PROJECT", help="the project file")
    parser.add_argument("--run", type=int, metavar="ID", help="the run to export (default: the latest with a checkpoint)")
    parser.add_argument("--checkpoint", metavar="STEP", help="a checkpoint step, 'last' (default) or 'best' (by --metric)")
    parser.add_argument("--metric", default="eval_loss", choices=("eval_loss", "exact_match", "contains", "f1", "rouge_l"),
                        help="what --checkpoint best ranks by: the lowest eval loss (default) or the highest task score")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--merged", metavar="DIR", help="write a merged Hugging Face model folder")
    where.add_argument("--adapter", metavar="DIR", help="write the adapter only, in PEFT's layout")
    where.add_argument("--serving-compatible", metavar="DIR",
                       help="write a LoRA adapter in PEFT's layout with one rank and lora_alpha == r, each module's "
                       "scale (rsLoRA, rank/alpha patterns) baked into lora_B, for servers that apply one alpha/r "
                       "to every module (TGI, LoRAX); checked against the adapter model")
    where.add_argument("--gguf", metavar="FILE", help="write the merged model as one GGUF file (llama.cpp, LM Studio), "
                       "checked in llama.cpp")
    where.add_argument("--gguf-adapter", metavar="FILE", help="write a LoRA adapter GGUF (llama.cpp --lora), checked "
                       "in llama.cpp on its base")
    where.add_argument("--ollama", metavar="DIR", help="write an Ollama folder: GGUF + Modelfile")
    from core.gguf_arch import GGUF_TYPES  # torch-free

    parser.add_argument("--gguf-type", choices=GGUF_TYPES, default="f16",
                        help="tensor type of --gguf / --ollama (default f16; k-quants through llama.cpp's quantizer)")
    parser.add_argument("--ollama-name", metavar="NAME", help="also run `ollama create NAME` when ollama is on PATH")
    parser.add_argument("--ollama-adapter", action="store_true",
                        help="--ollama with the base GGUF plus the adapter GGUF (ADAPTER) instead of a merged model")


# --------------------------------------------------------------------------------------------------
# combine


def _cmd_combine(args: argparse.Namespace) -> int:
    from core.combine import CombineRequest, combine_runs
    from core.store import Project

    weights = args.weights if args.weights is not None else [1.0 / len(args.runs)] * len(args.runs)
    request = CombineRequest(runs=args.runs, weights=weights, how=args.how, density=args.density,
                             majority_sign_method=args.majority_sign_method, svd_rank=args.svd_rank, seed=args.seed,
                             name=args.name or "")
    progress = _Progress()
    with Project.open(args.project) as project:
        # every refusal (runs, bases, methods, ranks) comes before the model loads
        run_id = combine_runs(project, request, lambda fraction, text: progress.line(f"combining: {fraction:4.0%} {text}"))
        progress.end()
        run, checkpoint = project.run(run_id), project.last_checkpoint(run_id)
    rank = run.config.method_config.get("r")
    print(f"Run {run_id}: {run.name}" + (f", rank {rank}" if rank else "") + f"; its adapter is in {checkpoint}.")
    print(f"Export it with: adapter-studio export {args.project} --run {run_id} --adapter DIR (or --merged DIR, --gguf FILE)")
    return 0


def _add_combine(subparsers: argparse._SubParsersAction) -> None:
    from core.combine import COMBINATION_TYPES  # torch-free

    parser = _subcommand(
        subparsers, "combine", _cmd_combine, help="combine finished runs into a new run (adapter arithmetic)",
        description="Combine the last checkpoints of finished LoRA (or IA3) runs on the same base model into one "
        "adapter, recorded as a new run that exports and evaluates like any other. cat is exact (the weighted sum of "
        "the updates; the ranks add up); linear and the pruning rules (ties, dare_*, magnitude_prune) add the A and B "
        "matrices (same rank needed); the svd types combine the full updates and factorise the result.",
        epilog="example:\n  adapter-studio combine facts.adapterstudio --runs 3 5 --weights 0.5 0.5 --how ties --density 0.5",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("project", metavar="PROJECT", help="the project file")
    parser.add_argument("--runs", type=int, nargs="+", required=True, metavar="ID", help="the runs to combine (two or more)")
    parser.add_argument("--weights", type=float, nargs="+", metavar="W",
                        help="one weight per run, in the same order (default: equal weights summing to 1)")
    parser.add_argument("--how", choices=COMBINATION_TYPES, default="cat", help="the combination type (default cat)")
    parser.add_argument("--density", type=float, help="fraction of values kept, 0-1 (ties, dare_*, magnitude_prune and "
                        "their _svd variants)")
    parser.add_argument("--majority-sign-method", choices=("total", "frequency"), default="total",
                        help="ties / dare_ties: the sign kept per value (default total)")
    parser.add_argument("--svd-rank", type=int, help="rank of the svd types' result (default: the largest rank)")
    parser.add_argument("--seed", type=int, default=0, help="seed of dare's random masks (default 0)")
    parser.add_argument("--name", help="the new run's name (default: what it combines, e.g. '0.5×run 3 + 0.5×run 5 (ties)')")


# --------------------------------------------------------------------------------------------------
# pull


def _cmd_pull(args: argparse.Namespace) -> int:
    from core import hub

    progress = _Progress()
    model = hub.info(args.model, args.revision)
    gated = f", gated ({model.gated})" if model.gated else ""
    progress.log(f"{model.repo_id} at {model.commit[:12] or model.revision}: {len(model.wanted)} files, "
                 f"{hub.human_bytes(model.download_bytes)}, licence {model.licence or 'not stated'}{gated}")

    tenths = [-1]

    def show(p: Any) -> None:
        done = p.done / p.total if p.total else 1.0
        if not progress.tty and int(done * 10) == tenths[0]:
            return  # not a terminal (a log, a pipe): a line every 10 %
        tenths[0] = int(done * 10)
        bar = "#" * int(done * progress.width) + "-" * (progress.width - int(done * progress.width))
        progress.line(f"[{bar}] {p.text()}")

    folder = hub.download(args.model, args.revision, progress=show, model=model)
    progress.end()
    print(f"{args.model} is complete in {folder}; its weights check out. It opens offline now: "
          f"adapter-studio new PROJECT --model {args.model} --dataset FILE")
    return 0


def _add_pull(subparsers: argparse._SubParsersAction) -> None:
    parser = _subcommand(
        subparsers, "pull", _cmd_pull, help="download a model from the Hugging Face Hub into its cache",
        description="Download what MODEL needs (config, tokenizer, safetensors weights) into the Hugging Face "
        "cache, with progress; an interrupted download continues where it stopped. Exits 0 only when the snapshot "
        "is complete and every file matches the Hub's hash and size. HF_ENDPOINT, HF_HUB_OFFLINE, HF_HOME and "
        "HF_TOKEN are honoured; a gated model needs `hf auth login` (or the studio's token field) first.",
    )
    parser.add_argument("model", metavar="MODEL", help="a Hub model id, ORGANISATION/NAME")
    parser.add_argument("--revision", help="a branch, tag or commit (default: main)")


# --------------------------------------------------------------------------------------------------
# demo


def demo_dataset() -> Path:
    """The small dataset shipped for the demo (assets/datasets/; the studio's first project uses it too)."""
    from core.defaults import sample_dataset

    found = sample_dataset()
    if found is None:
        raise CliError(f"the demo dataset is missing from {ASSETS / 'datasets'}; reinstall Adapter Studio.")
    return found


def _cmd_demo(args: argparse.Namespace) -> int:
    from core.store import Project

    path = Path(args.dir) / DEMO_PROJECT
    if path.exists():
        print(f"Using the existing demo project {path}.", file=sys.stderr)
    else:
        _, summary = create_project(path, model=DEMO_MODEL, method="lora", dataset=str(demo_dataset()))
        print(f"Created {path}: {summary}.")
    overrides = {"max_steps": args.steps, "num_epochs": 0.0} if args.steps else {}
    with Project.open(path) as project:
        run_id = project.create_run(name="demo", training_overrides=overrides)
    return train_run(path, run_id, debug=args.debug)


def _add_demo(subparsers: argparse._SubParsersAction) -> None:
    parser = _subcommand(
        subparsers, "demo", _cmd_demo, help="create and train the demo project (SmolLM2-135M-Instruct, LoRA)",
        description=f"Create {DEMO_PROJECT} (SmolLM2-135M-Instruct, LoRA with the tested defaults, the small "
        "dataset shipped in assets/datasets/) and train it. Run it again for another run.",
    )
    parser.add_argument("--dir", default=".", help="where to put the demo project (default: here)")
    parser.add_argument("--steps", type=int, help="optimizer steps (default: the LoRA defaults)")


# One entry per subcommand, in --help order.
COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_new, _add_train, _add_runs, _add_eval, _add_export, _add_combine, _add_inspect, _add_pull, _add_demo,
]


def _subcommand(subparsers: argparse._SubParsersAction, name: str, handler: Callable[[argparse.Namespace], int],
                **options: Any) -> argparse.ArgumentParser:
    """A subcommand's parser with ``--debug`` (`_debug_parent`); `main` runs ``handler`` for it."""
    parser = subparsers.add_parser(name, parents=[_debug_parent()], **options)
    parser.set_defaults(handler=handler)
    return parser


def _debug_parent() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks and the worker's log")
    return parent


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand of `COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="adapter-studio", description="Adapter Studio: parameter-efficient fine-tuning, headless."
    )
    parser.add_argument("--debug", action="store_true", default=False, help="show tracebacks and the worker's log")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in COMMANDS:
        add(subparsers)
    return parser


def _fail(message: str) -> int:
    # Never hard-wrapped: messages hold paths, commands and values a person copies, and a
    # line break inside a path breaks the copy (and any test that reads the message). The terminal wraps.
    print(f"adapter-studio: {message}", file=sys.stderr)
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status (0 on success, 2 on a problem the person can fix,
    1 when a run failed or something unexpected broke)."""
    args = build_parser().parse_args(argv)
    if not hasattr(args, "debug"):
        args.debug = False
    try:
        return args.handler(args)
    except BrokenPipeError:
        # `adapter-studio inspect X | head`: the reader left; not an error worth a traceback.
        # Point stdout at devnull so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the one place errors become messages
        if args.debug:
            traceback.print_exc()
        problem = explain(exc)
        if problem.expected:
            return _fail(problem.message)
        _fail(f"unexpected error: {problem.message}" + ("" if args.debug else " (rerun with --debug for the traceback)"))
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
