"""``adapter-studio <command>``: the engine without the GUI.

Each subcommand is one ``_add_<name>(subparsers)`` function that declares its arguments and sets
``handler``; `COMMANDS` lists them, so adding a command is one function and one line.
Errors a person can fix (`ModelLoadError`) print one paragraph to stderr and exit with status 2,
without a traceback.

Commands: ``inspect MODEL [--json] [--no-counts]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from collections.abc import Callable, Sequence

from core.models import BUILTINS, ModelLoadError

EXIT_USAGE = 2  # like argparse: the person must change something in what they asked for


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


# One entry per subcommand, in --help order.
COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_add_inspect]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand of `COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="adapter-studio", description="Adapter Studio: parameter-efficient fine-tuning, headless."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in COMMANDS:
        add(subparsers)
    return parser


def _fail(message: str) -> int:
    # Names such as tiny-llama must not be split at their hyphen when the paragraph is wrapped.
    text = textwrap.fill(f"adapter-studio: {message}", width=100, break_on_hyphens=False, break_long_words=False)
    print(text, file=sys.stderr)
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status (0 on success, 2 on a problem the person can fix)."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except ModelLoadError as exc:
        return _fail(str(exc))
    except BrokenPipeError:
        # `adapter-studio inspect X | head`: the reader left; not an error worth a traceback.
        # Point stdout at devnull so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
