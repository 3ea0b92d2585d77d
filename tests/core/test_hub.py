"""core.hub against a stand-in hub on 127.0.0.1 (tests/core/stand_in_hub.py), with the real huggingface_hub
client talking to it: search, info (config.json alone, before any weights), download with progress into
the standard cache, resume after a cut connection, cancel, the errors a person meets (404, bad revision,
401/403 gated, no network, disk full, offline), the token storage, and `adapter-studio pull` followed by
new / train / export offline for a Qwen2 model (an architecture outside the built-ins)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from core import hub
from core.errors import DownloadCancelled, HubError
from tests.core.stand_in_hub import GOOD_TOKEN, NO_ACCESS_TOKEN, Repo, StandInHub, tiny_qwen2_folder

REPO = "stand-in/tiny-qwen2"
GATED = "stand-in/gated-qwen2"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def qwen_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_qwen2_folder(tmp_path_factory.mktemp("qwen2") / "model")


@pytest.fixture
def stand_in(qwen_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A running stand-in hub serving the tiny Qwen2 (open and gated), and huggingface_hub pointed at it with
    an empty cache and token store under tmp_path (its constants patched: they are read at its import)."""
    from huggingface_hub import constants, hf_api

    server = StandInHub([
        Repo.from_folder(REPO, qwen_folder, downloads=10, revisions=("main", "v1")),
        Repo.from_folder(GATED, qwen_folder, gated="manual", license="llama3.2"),
    ])
    home = tmp_path / "hf-home"
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(constants, "ENDPOINT", server.url)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", server.url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(hf_api.api, "endpoint", server.url)  # the module-level HfApi that login/whoami use
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(home / "stored_tokens"))
    yield server
    server.close()


def _gets(server: StandInHub, suffix: str) -> list[dict]:
    return [r for r in server.log if r["method"] == "GET" and r["path"].endswith(suffix)]


def test_search_finds_the_stand_in_models(stand_in: StandInHub) -> None:
    hits = hub.search("qwen2", limit=5)
    assert [h.repo_id for h in hits] == [REPO, GATED]  # most downloaded first
    assert hits[1].gated == "manual"
    assert hub.search("no-such-thing") == []
    assert [r["query"].get("search") for r in stand_in.log if r["path"] == "/api/models"][0] == ["qwen2"]


def test_info_fetches_the_config_alone_and_the_tree_builds_from_it(stand_in: StandInHub, qwen_folder: Path) -> None:
    from core.models import skeleton

    model = hub.info(REPO)
    assert model.config["model_type"] == "qwen2"
    assert model.licence == "apache-2.0" and model.gated is False and not model.cached
    sizes = {f.name: f.size for f in model.wanted}
    assert sizes["model.safetensors"] == (qwen_folder / "model.safetensors").stat().st_size
    assert "README.md" not in sizes  # only what the model needs
    assert not _gets(stand_in, "model.safetensors"), "no weights move before a download"
    # The config sits in the standard cache, so the tree and counts build from it before any weights.
    meta = skeleton(REPO)
    assert type(meta).__name__ == "Qwen2ForCausalLM"
    import transformers

    real = transformers.AutoModelForCausalLM.from_pretrained(str(qwen_folder))
    assert sum(p.numel() for p in meta.parameters()) == sum(p.numel() for p in real.parameters())


def test_download_reports_progress_lands_in_the_cache_and_loads_offline(
    stand_in: StandInHub, monkeypatch: pytest.MonkeyPatch, qwen_folder: Path
) -> None:
    import torch
    from huggingface_hub import constants, snapshot_download

    from core.models import load_model

    seen: list[hub.Progress] = []
    folder = hub.download(REPO, progress=seen.append)
    total = sum(f.size for f in hub.info(REPO).wanted)
    assert seen[-1].done == seen[-1].total == total
    assert all(a.done <= b.done for a, b in zip(seen, seen[1:]))
    assert "of" in seen[-1].text() and "/s" in seen[-1].text()
    # The standard layout: huggingface_hub's own offline lookup finds the same snapshot.
    assert Path(snapshot_download(REPO, local_files_only=True)) == folder
    assert (folder / "model.safetensors").is_symlink()
    assert hub.info(REPO).cached
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    model, _ = load_model(REPO)
    original, _ = load_model(str(qwen_folder))
    ids = torch.tensor([[5, 6, 7, 8]])
    assert torch.equal(model(ids).logits, original(ids).logits)
    assert model.name_or_path == REPO
    assert hub.download(REPO) == folder  # offline: the cached snapshot


def test_an_interrupted_download_resumes_where_it_stopped(stand_in: StandInHub) -> None:
    weights = next(f for f in hub.info(REPO).wanted if f.name == "model.safetensors")
    before = stand_in.body_bytes
    stand_in.cut_after = 40_000  # the connection drops inside the first file body served
    with pytest.raises(HubError, match="interrupted.*download again"):
        hub.download(REPO)
    partial = list((hub.cache_dir() / "models--stand-in--tiny-qwen2" / "blobs").glob("*.incomplete"))
    assert len(partial) == 1
    kept = partial[0].stat().st_size
    assert kept > 0
    folder = hub.download(REPO)
    ranged = [r for r in stand_in.log if r["range"]]
    assert ranged and ranged[0]["range"] == f"bytes={kept}-"
    wanted = hub.info(REPO).wanted
    # Everything was sent once (config.json already came with `info`): the resumed file was not fetched again.
    assert stand_in.body_bytes - before == sum(f.size for f in wanted if f.name != "config.json")
    assert (folder / "model.safetensors").stat().st_size == weights.size
    assert not list(folder.parent.parent.glob("blobs/*.incomplete"))


def test_cancel_keeps_what_was_fetched_and_the_next_download_continues(stand_in: StandInHub) -> None:
    stand_in.delay = 0.05  # per 64 KiB: the weights take a few tenths of a second
    cancel = threading.Event()

    def on_progress(p: hub.Progress) -> None:
        if p.file == "model.safetensors":
            cancel.set()

    with pytest.raises(DownloadCancelled, match="cancelled"):
        hub.download(REPO, progress=on_progress, cancel=cancel)
    assert hub.cached_snapshot(REPO) is None
    stand_in.delay = 0.0
    folder = hub.download(REPO)
    assert any(r["range"] for r in stand_in.log)
    hub.verify(folder)


def test_a_file_whose_every_byte_arrived_before_a_cancel_is_finished_without_a_request(stand_in: StandInHub) -> None:
    """A cancel (or crash) right after a file's last chunk leaves a full-size .incomplete: the next download
    checks and keeps it (a range request from its end would be answered 416)."""
    model = hub.info(REPO)
    tokenizer = next(f for f in model.wanted if f.name == "tokenizer.json")
    blobs = hub.cache_dir() / "models--stand-in--tiny-qwen2" / "blobs"
    (blobs / f"{tokenizer.etag}.incomplete").write_bytes(stand_in.repos[REPO].files["tokenizer.json"])
    folder = hub.download(REPO, model=model)
    assert not _gets(stand_in, "tokenizer.json")
    assert (folder / "tokenizer.json").read_bytes() == stand_in.repos[REPO].files["tokenizer.json"]


def test_a_damaged_file_is_refused(stand_in: StandInHub) -> None:
    repo = stand_in.repos[REPO]
    good = repo.files["tokenizer.json"]
    model = hub.info(REPO)  # the hub's hashes; then one byte of a file changes on the way (same size)
    repo.files["tokenizer.json"] = good[:100] + bytes([good[100] ^ 1]) + good[101:]
    with pytest.raises(HubError, match="tokenizer.json of stand-in/tiny-qwen2 arrived damaged"):
        hub.download(REPO, model=model)
    assert hub.cached_snapshot(REPO) is None


def test_errors_are_written_for_a_person(stand_in: StandInHub, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(HubError, match="There is no model 'stand-in/missing'"):
        hub.info("stand-in/missing")
    with pytest.raises(HubError, match="has no revision 'no-such-branch'"):
        hub.info(REPO, "no-such-branch")
    assert hub.info(REPO, "v1").commit == stand_in.repos[REPO].commit
    with pytest.raises(HubError, match="not a Hub model id"):
        hub.info("just-a-name")
    # Gated: the facts show without a token, the config and weights do not.
    gated = hub.info(GATED)
    assert gated.gated == "manual" and gated.config is None and "logged in" in gated.config_error
    with pytest.raises(HubError, match="must be logged in.*settings/tokens"):
        hub.download(GATED)
    with pytest.raises(HubError, match="has not been given access yet. Request access"):
        hub.download(GATED, token=NO_ACCESS_TOKEN)
    assert _gets(stand_in, "config.json")[-1]["auth"] == ""
    # Pickled weights only: the facts show, the download is refused before anything moves.
    stand_in.add(Repo("stand-in/pickles", {"config.json": stand_in.repos[REPO].files["config.json"],
                                           "pytorch_model.bin": b"\0" * 64}))
    assert hub.info("stand-in/pickles").licence == "apache-2.0"
    with pytest.raises(HubError, match="no safetensors weights.*pytorch_model.bin.*pickle"):
        hub.download("stand-in/pickles")
    assert not _gets(stand_in, "pytorch_model.bin")
    # Disk space is checked against the files' sizes before anything is fetched.
    monkeypatch.setattr(hub, "_free_bytes", lambda path: 1000)
    with pytest.raises(HubError, match="Not enough disk space.*HF_HUB_CACHE"):
        hub.download(REPO)
    assert not _gets(stand_in, "model.safetensors")


def test_no_network_and_offline(stand_in: StandInHub, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    url = stand_in.url
    stand_in.close()  # nothing listens there any more
    monkeypatch.setattr(constants, "ENDPOINT", url)
    with pytest.raises(HubError, match="Cannot reach the Hub at http://127.0.0.1"):
        hub.info(REPO)
    with pytest.raises(HubError, match="Cannot reach the Hub"):
        hub.search("qwen")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(HubError, match="HF_HUB_OFFLINE"):
        hub.search("qwen")
    with pytest.raises(HubError, match="not in the Hugging Face cache and HF_HUB_OFFLINE"):
        hub.download(REPO)


def test_the_token_goes_to_huggingface_hubs_storage(stand_in: StandInHub) -> None:
    from huggingface_hub import constants

    assert hub.current_token() is None
    with pytest.raises(HubError, match="refused the token"):
        hub.save_token("hf_not_a_real_token")
    assert hub.save_token(GOOD_TOKEN) == "stand-in-user"
    assert hub.current_token() == GOOD_TOKEN
    assert Path(constants.HF_TOKEN_PATH).read_text().strip() == GOOD_TOKEN
    folder = hub.download(GATED)  # the stored token is sent
    assert (folder / "model.safetensors").is_file()
    assert _gets(stand_in, "model.safetensors")[-1]["auth"] == f"Bearer {GOOD_TOKEN}"


def test_pull_then_new_train_export_offline_from_a_clean_cache(stand_in: StandInHub, tmp_path: Path) -> None:
    """The issue's 'done when': `pull` from the stand-in hub, then new / train / export with HF_HUB_OFFLINE=1,
    for Qwen2 (not a built-in), each a real `adapter-studio` process."""
    env = {**os.environ, "HF_ENDPOINT": stand_in.url, "HF_HOME": str(tmp_path / "clean-home"),
           "HF_HUB_OFFLINE": "0", "PYTHONPATH": str(ROOT)}
    env.pop("HF_HUB_CACHE", None)
    env.pop("HF_TOKEN", None)

    def cli(*args: str, offline: bool = False, check: bool = True) -> subprocess.CompletedProcess:
        run_env = {**env, "HF_HUB_OFFLINE": "1"} if offline else env
        done = subprocess.run([sys.executable, "-m", "core.cli", *args], env=run_env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=600)
        if check:
            assert done.returncode == 0, done.stdout + done.stderr
        return done

    missing = cli("pull", "stand-in/missing", check=False)
    assert missing.returncode == 2 and "There is no model 'stand-in/missing'" in missing.stderr
    pulled = cli("pull", REPO)
    assert "weights check out" in pulled.stdout
    assert "/s" in pulled.stderr and "left" in pulled.stderr  # bytes, speed and ETA on the terminal
    data = tmp_path / "facts.jsonl"
    data.write_text("".join('{"prompt": "Capital of %s?", "completion": " %s"}\n' % (c, c[::-1])
                            for c in ("Ard", "Bel", "Cor", "Dun", "Eth", "Fal", "Gor", "Hal")))
    created = cli("new", "p", "--model", REPO, "--dataset", str(data), "--set", "max_length=128", offline=True)
    assert "LORA on stand-in/tiny-qwen2" in created.stdout
    cli("train", "p.adapterstudio", "--steps", "2", offline=True)
    exported = cli("export", "p.adapterstudio", "--merged", str(tmp_path / "merged"), offline=True)
    assert "largest logit difference" in exported.stdout
    import json

    assert json.loads((tmp_path / "merged" / "config.json").read_text())["model_type"] == "qwen2"


@pytest.mark.parametrize("entry", hub.gallery(), ids=lambda e: e.repo_id)
def test_each_gallery_config_builds_a_model_of_its_stated_size(entry: hub.GalleryEntry, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped config.json of each gallery model builds (meta device, offline, from an empty cache) a
    model whose parameter count is the size it is known by, within 3 %."""
    from huggingface_hub import constants

    from core.models import skeleton

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    assert hub.gallery_config(entry.repo_id) == entry.config_file
    model = skeleton(entry.repo_id)  # not cached: the gallery's config answers
    count = sum(p.numel() for p in model.parameters())
    assert abs(count - entry.parameters) / entry.parameters < 0.03, (entry.repo_id, count)
    assert entry.licence and isinstance(entry.gated, bool)


def test_pull_killed_mid_download_resumes_on_the_next_pull(stand_in: StandInHub, tmp_path: Path) -> None:
    """A crash (SIGKILL of `adapter-studio pull` in the middle of the weights) loses only the unfinished tail:
    the next pull continues the .incomplete file with a range request and exits 0."""
    import signal
    import time

    home = tmp_path / "home"
    env = {**os.environ, "HF_ENDPOINT": stand_in.url, "HF_HOME": str(home), "HF_HUB_OFFLINE": "0",
           "PYTHONPATH": str(ROOT)}
    env.pop("HF_HUB_CACHE", None)
    env.pop("HF_TOKEN", None)
    stand_in.delay = 0.3  # per 64 KiB: the weights take a couple of seconds
    proc = subprocess.Popen([sys.executable, "-m", "core.cli", "pull", REPO], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    blobs = home / "hub" / "models--stand-in--tiny-qwen2" / "blobs"
    weights = stand_in.repos[REPO].files["model.safetensors"]
    import hashlib

    part = blobs / f"{hashlib.sha256(weights).hexdigest()}.incomplete"
    deadline = time.monotonic() + 120
    while not (part.is_file() and part.stat().st_size > 0) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    kept = part.stat().st_size
    assert 0 < kept < len(weights)
    stand_in.delay = 0.0
    done = subprocess.run([sys.executable, "-m", "core.cli", "pull", REPO], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert any(r["range"] == f"bytes={kept}-" for r in stand_in.log)
    assert not part.exists()
