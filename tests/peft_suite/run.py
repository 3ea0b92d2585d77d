"""``make peft-suite``: run PEFT 0.21.2's own tests against our engine and report per method.

1. ``pip download --no-deps --no-binary :all: peft==0.21.2`` into ``build/peft-suite/`` (once; the sdist holds
   PEFT's ``tests/``), unpacked there; its tests become the package ``peft_tests`` (nothing is copied into the
   repository).
2. pytest on the chosen files twice: with real peft (``PEFT_SUITE_ENGINE=peft``, the baseline) and with
   ``peft``'s public names served by ``core`` (``tests/peft_suite/peft_shim.py``).
3. A case is in scope when it exercises only our methods (LoRA/DoRA, AdaLoRA, IA3, the prompt methods) and
   real peft passes it here (offline, CPU). Printed per method: in scope, passed on our engine, failed, and
   the out-of-scope count; ``build/peft-suite/report.json`` keeps every case.

Usage: ``python -m tests.peft_suite.run [-k EXPR] [--files test_mapping.py ...] [--skip-baseline] [--name NAME]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / "build" / "peft-suite"
VERSION = "0.21.2"
FILES = ("test_custom_models.py", "test_config.py", "test_initialization.py", "test_other.py", "test_lora_variants.py",
         "test_helpers.py", "test_low_level_api.py", "test_tuners_utils.py", "test_mapping.py")
OUR_METHODS = ("LORA", "ADALORA", "IA3", "PROMPT_TUNING", "P_TUNING", "PREFIX_TUNING", "ADAPTION_PROMPT")


def fetch() -> Path:
    """PEFT's test folder as the package ``WORK/peft_tests`` (downloaded and unpacked once)."""
    package = WORK / "peft_tests"
    if (package / "__init__.py").is_file():
        return package
    WORK.mkdir(parents=True, exist_ok=True)
    sdist = WORK / f"peft-{VERSION}.tar.gz"
    if not sdist.is_file():
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", f"peft=={VERSION}",
                        "-d", str(WORK)], check=True)
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith(f"peft-{VERSION}/tests/")]
        tar.extractall(WORK, members=members, filter="data")
    shutil.rmtree(package, ignore_errors=True)
    (WORK / f"peft-{VERSION}" / "tests").rename(package)
    # PEFT's test modules import their helpers relatively (`from .testing_common import …`): make it a package
    (package / "__init__.py").write_text("")
    return package


def test_dependencies() -> Path:
    """PEFT's tests import diffusers, Pillow, scipy and parameterized: installed once into ``WORK/deps``, not into the venv."""
    deps = WORK / "deps"
    probe = subprocess.run([sys.executable, "-c", "import diffusers, PIL, scipy, parameterized, attr"], env=dict(os.environ, PYTHONPATH=str(deps)),
                           capture_output=True)
    if probe.returncode != 0:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(deps), "--no-deps",
                        "diffusers==0.42.1", "pillow", "scipy", "parameterized", "attrs"], check=True)
    return deps


def run(engine: str, files: list[str], keyword: str | None, report: Path, timeout: int) -> int:
    env = dict(os.environ, PEFT_SUITE_ENGINE=engine, PEFT_SUITE_REPORT=str(report), HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1", CUDA_VISIBLE_DEVICES="",
               # a case that goes online anyway (PEFT's hub_online_once) fails at once: a closed local port, no
               # retries (see peft_shim.py); the same on both engines
               HF_ENDPOINT="http://127.0.0.1:9", PEFT_SUITE_HUB_RETRIES="0",
               PYTHONPATH=os.pathsep.join([str(ROOT / "tests" / "peft_suite"), str(ROOT), str(WORK), str(WORK / "deps")]))
    command = [sys.executable, "-m", "pytest", "-q", "-p", "peft_shim", "-p", "no:cacheprovider", "-o", "addopts=",
               "--rootdir", str(WORK), "-W", "ignore", "--tb=no", "-rN", f"--timeout={timeout}",
               *[f"peft_tests/{f}" for f in files]]
    if keyword:
        command += ["-k", keyword]
    print("$", " ".join(command), flush=True)
    return subprocess.run(command, cwd=WORK, env=env).returncode


def summarise(ours: dict, baseline: dict | None) -> str:
    table: dict[str, Counter] = defaultdict(Counter)
    for nodeid, (outcome, methods) in ours.items():
        scope = [m for m in methods if m in OUR_METHODS]
        base = baseline.get(nodeid, ["missing"])[0] if baseline is not None else "passed"
        if "out-of-scope" in methods or "peft-internal" in methods:
            table[methods[0] if len(methods) == 1 else "out-of-scope"]["cases"] += 1
            continue
        for method in scope or ["general"]:
            if base != "passed":
                table[method]["not passed by peft"] += 1
                continue
            table[method]["in scope"] += 1
            table[method][outcome if outcome in ("passed", "failed") else "skipped"] += 1
    lines = [f"{'method':<16}{'in scope':>9}{'passed':>8}{'failed':>8}{'skipped':>9}{'peft fails':>11}{'pass %':>8}"]
    total = Counter()
    for method in [*OUR_METHODS, "general"]:
        c = table.get(method)
        if not c:
            continue
        total.update(c)
        share = 100 * c["passed"] / c["in scope"] if c["in scope"] else 0.0
        lines.append(f"{method:<16}{c['in scope']:>9}{c['passed']:>8}{c['failed']:>8}{c['skipped']:>9}"
                     f"{c['not passed by peft']:>11}{share:>7.1f}%")
    share = 100 * total["passed"] / total["in scope"] if total["in scope"] else 0.0
    lines.append(f"{'all in scope':<16}{total['in scope']:>9}{total['passed']:>8}{total['failed']:>8}{total['skipped']:>9}"
                 f"{total['not passed by peft']:>11}{share:>7.1f}%")
    lines.append(f"out of scope (methods we do not implement): {table['out-of-scope']['cases']} cases")
    if table["peft-internal"]["cases"]:
        lines.append(f"peft-internal (tests of PEFT's private module state, not run against our engine's behaviour; "
                     f"reasons: PEFT_INTERNAL in tests/peft_suite/peft_shim.py): {table['peft-internal']['cases']} cases")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", dest="keyword", help="pytest -k expression (a subset)")
    parser.add_argument("--files", nargs="*", default=list(FILES), help="PEFT test files to run")
    parser.add_argument("--skip-baseline", action="store_true", help="reuse the last real-peft run")
    parser.add_argument("--timeout", type=int, default=120, help="seconds per case")
    parser.add_argument("--summary-only", action="store_true", help="summarise the last runs' (possibly partial) results")
    parser.add_argument("--name", help="keep this run's results apart (baseline-NAME.json, ours-NAME.json, "
                                       "report-NAME.json), e.g. one per file; two runs with different names may overlap")
    args = parser.parse_args(argv)
    suffix = f"-{args.name}" if args.name else ""
    baseline_path, ours_path = WORK / f"baseline{suffix}.json", WORK / f"ours{suffix}.json"
    if args.summary_only:
        ours = json.loads(ours_path.read_text())
        print(summarise(ours, json.loads(baseline_path.read_text()) if baseline_path.is_file() else None))
        return 0
    fetch()
    test_dependencies()
    started = time.time()
    if not (args.skip_baseline and baseline_path.is_file()):
        run("peft", args.files, args.keyword, baseline_path, args.timeout)
    run("core", args.files, args.keyword, ours_path, args.timeout)
    baseline = json.loads(baseline_path.read_text()) if baseline_path.is_file() else None
    ours = json.loads(ours_path.read_text())
    text = summarise(ours, baseline)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    header = f"PEFT {VERSION}'s tests on our engine ({stamp}, {time.time() - started:.0f} s; files: {', '.join(args.files)}" \
             + (f"; -k {args.keyword}" if args.keyword else "") + ")"
    print("\n" + header + "\n" + text)
    (WORK / f"report{suffix}.json").write_text(json.dumps({"header": header, "summary": text, "cases": ours}, indent=0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
