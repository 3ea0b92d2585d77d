# llama-cpp-python for the test set-up: llama.cpp itself, which checks every GGUF export
# (core/gguf_export.py; tests/core/test_gguf*.py). Sourced by run.sh; defines install_llama_cpp.
#
# The registry has only its source distribution, which vendors llama.cpp and builds it with cmake and
# a C++ compiler: measured 2026-12-07 on this project's 2-core CI-like machine (shared with other
# builds), see docs/export.md. It is built once, for the CPU of any x86_64 machine
# (GGML_NATIVE=OFF: the wheel runs on another CPU than the one that built it), and the wheel is kept
# in ~/.cache/adapter-studio/wheels, so a fresh .venv installs it in seconds.
#
#   install_llama_cpp VERSION VPY    build (once) and install llama-cpp-python==VERSION into VPY's env
#
# Its run-time dependencies (numpy, typing-extensions, jinja2, diskcache) come from the lock where it pins
# them; `make lock` resolves them from requirements/test-extra.in.

LLAMA_CPP_PYTHON_VERSION=0.3.36  # used where the lock pins none (requirements/test-extra.in lists it for `make lock`)

install_llama_cpp() {
    local version=${1:-$LLAMA_CPP_PYTHON_VERSION} vpy=$2 cache wheel t0
    cache="${XDG_CACHE_HOME:-$HOME/.cache}/adapter-studio/wheels"
    wheel=$(ls "$cache"/llama_cpp_python-"$version"-*.whl 2>/dev/null | head -n 1 || true)
    if [ -z "$wheel" ]; then
        command -v cmake >/dev/null 2>&1 || "$vpy" -m pip install -q cmake \
            || { echo "run.sh: building llama-cpp-python needs cmake (Debian/Ubuntu: sudo apt-get install cmake)" >&2; return 1; }
        command -v c++ >/dev/null 2>&1 \
            || { echo "run.sh: building llama-cpp-python needs a C++ compiler (Debian/Ubuntu: sudo apt-get install g++)" >&2; return 1; }
        printf '==> %s\n' "Building llama-cpp-python $version (llama.cpp for the CPU; once, the wheel is kept in $cache)"
        t0=$SECONDS
        mkdir -p "$cache"
        # --no-cache-dir: pip's own cache could hand back a wheel built with other CMAKE_ARGS.
        CMAKE_ARGS="-DGGML_NATIVE=OFF ${LLAMA_CMAKE_ARGS:-}" CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}" \
            "$vpy" -m pip wheel -q --no-cache-dir --no-deps -w "$cache.llama.tmp" "llama-cpp-python==$version" \
            || { echo "run.sh: could not build llama-cpp-python $version; see the messages above" >&2; return 1; }
        mv "$cache.llama.tmp"/llama_cpp_python-"$version"-*.whl "$cache"/ && rmdir "$cache.llama.tmp"
        wheel=$(ls "$cache"/llama_cpp_python-"$version"-*.whl | head -n 1)
        printf '==> %s\n' "Built $(basename "$wheel") in $((SECONDS - t0)) s"
    else
        printf '==> %s\n' "Installing llama-cpp-python $version from $wheel"
    fi
    # with its dependencies: the lock pins them; without a lock pip resolves the few it lacks (diskcache)
    "$vpy" -m pip install -q "$wheel"
}
