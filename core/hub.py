"""The Hugging Face Hub, on a person's click: search, look before downloading, download with progress,
cancel and resume, into the standard Hugging Face cache (so `hf`, transformers and other tools see it).

- `search(query)`: model ids matching a text (``huggingface_hub``'s model search);
- `info(repo_id, revision)`: the repository's files and sizes, licence and gated state, and its
  ``config.json`` fetched alone into the cache (no weights move), so the module tree, the parameter
  count and the memory estimate can be shown from the config (`core.models.skeleton(repo_id)`);
- `download(repo_id, revision, progress=, cancel=)`: the files a model needs (config, tokenizer,
  safetensors weights; never pickles), resumable: each file is written to
  ``blobs/<etag>.incomplete`` and continued with an HTTP range request next time, after a cancel, a
  cut connection or a crash. Every file is checked against the hub's hash (sha256 for weights, the
  git blob id for the rest) and size before it is moved into place; then the snapshot's weights are
  checked as `core.models` checks a folder. Disk space is checked against the sizes before starting;
- `gallery()`: popular small models whose ``config.json`` ships in ``assets/gallery/``, so their tree,
  counts and memory show offline, before anything is fetched;
- `save_token(token)` / `current_token()`: ``huggingface_hub``'s own token storage (``hf auth login``'s),
  never the project file.

``HF_ENDPOINT``, ``HF_HUB_OFFLINE`` and ``HF_HUB_CACHE`` / ``HF_HOME`` are honoured through
``huggingface_hub.constants`` (read at each call). Offline, cached ids work as before; search and
download say that they need the network.

Why not ``snapshot_download`` for the weights: ``huggingface_hub`` 1.x/2.x downloads each file into a
temporary file with a unique name and deletes it when the download fails, so an interrupted download
starts again from zero; a 15 GB model on a flaky line never finishes. The cache layout written here
(``models--ORG--NAME/blobs``, ``snapshots/<commit>``, ``refs/<revision>``) is ``huggingface_hub``'s, and
``snapshot_download(local_files_only=True)`` finds the result.

Errors are `core.errors.HubError` (a `ModelLoadError`, kind ``model``) with a message for a person, and
`core.errors.DownloadCancelled`. Torch-free; the window calls it on a worker thread.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from core.errors import DownloadCancelled, HubError, ModelLoadError

__all__ = [
    "GalleryEntry", "HubFile", "HubModel", "Progress", "SearchHit", "cache_dir", "cached_snapshot", "current_token",
    "download", "endpoint", "gallery", "gallery_config", "info", "is_offline", "save_token", "search", "verify",
]

GALLERY_DIR = Path(__file__).resolve().parent.parent / "assets" / "gallery"
_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_CHUNK = 1 << 20
# The files a causal LM needs besides its weights; pickles, ONNX, TF/Flax, GGUF and the model's own
# Python code are never fetched (docs/models.md).
_KEEP_SUFFIXES = (".json", ".txt", ".model", ".jinja", ".tiktoken")
_SHARD = re.compile(r"^model-\d+-of-\d+\.safetensors$")

ProgressFn = Callable[["Progress"], None]


@dataclass(frozen=True)
class Progress:
    """Where a download stands: bytes done of total, speed over the last seconds, time left."""

    done: int
    total: int
    speed: float  # bytes per second
    eta_s: float | None
    file: str = ""

    def text(self) -> str:
        """``1.2 GiB of 3.4 GiB · 25.0 MiB/s · 1:30 left``."""
        eta = "?" if self.eta_s is None else _clock(self.eta_s)
        return f"{human_bytes(self.done)} of {human_bytes(self.total)} · {human_bytes(self.speed)}/s · {eta} left"


@dataclass(frozen=True)
class SearchHit:
    repo_id: str
    downloads: int = 0
    likes: int = 0
    gated: Any = False
    pipeline_tag: str = ""


@dataclass(frozen=True)
class HubFile:
    name: str
    size: int
    etag: str  # the sha256 of an LFS file, else its git blob id: what the cache names the blob
    lfs: bool


@dataclass
class HubModel:
    """What `info` learned about a repository before any weights moved."""

    repo_id: str
    revision: str  # as asked ("main" when not given)
    commit: str
    files: list[HubFile]
    licence: str
    gated: Any  # False, "auto" or "manual"
    config: dict[str, Any] | None  # None when the config could not be fetched (gated without access)
    config_error: str = ""
    downloads: int = 0
    cached: bool = False  # a complete snapshot of this commit is in the cache

    @property
    def wanted(self) -> list[HubFile]:
        return _wanted(self.files, self.repo_id)

    @property
    def download_bytes(self) -> int:
        return sum(f.size for f in self.wanted)


@dataclass(frozen=True)
class GalleryEntry:
    repo_id: str
    config_file: Path
    parameters: int  # the size the model is known by (its name), in parameters
    licence: str
    gated: bool
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------
# Settings read from huggingface_hub at each call (tests and the environment may change them)


def endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT.rstrip("/")


def is_offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def cache_dir() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def current_token() -> str | None:
    """The token ``huggingface_hub`` would send (``HF_TOKEN``, else the one ``hf auth login`` stored)."""
    from huggingface_hub import get_token

    return get_token()


def save_token(token: str) -> str:
    """Check ``token`` with the hub and store it where ``huggingface_hub`` keeps tokens (``hf auth login``'s
    place, under ``HF_HOME``); returns the account name. Never written to a project file."""
    from huggingface_hub import login, whoami

    token = token.strip()
    if not token:
        raise HubError("The token is empty. Paste an access token from huggingface.co/settings/tokens.")
    try:
        login(token=token, add_to_git_credential=False)
        return str(whoami(token)["name"])
    except Exception as exc:  # noqa: BLE001 - translated for a person
        raise _translate(exc, "", None, doing="checking the token") from exc


# --------------------------------------------------------------------------------------------------
# Search and info


def search(query: str, *, limit: int = 30, token: str | None = None) -> list[SearchHit]:
    """Text-generation models whose id contains ``query``, most downloaded first."""
    if is_offline():
        raise HubError("Searching the Hub needs the network, and HF_HUB_OFFLINE is set. Unset it, or type the id "
                       "of a model that is already in the cache.")
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    try:
        # The Hub's model search (what HfApi.list_models asks), one request: list_models retries a refused
        # connection five times (~25 s), too long for a person waiting on a search box.
        response = get_session().get(f"{endpoint()}/api/models", headers=build_hf_headers(token=token), timeout=15.0,
                                     params={"search": query.strip(), "limit": limit, "sort": "downloads"})
        hf_raise_for_status(response)
        return [SearchHit(m.get("id") or m.get("modelId", ""), m.get("downloads") or 0, m.get("likes") or 0,
                          m.get("gated") or False, m.get("pipeline_tag") or "") for m in response.json()]
    except Exception as exc:  # noqa: BLE001
        raise _translate(exc, "", None, doing=f"searching for {query!r}") from exc


def check_id(repo_id: str) -> str:
    repo_id = repo_id.strip()
    if not _ID.match(repo_id):
        raise HubError(f"{repo_id!r} is not a Hub model id: write it as ORGANISATION/NAME, e.g. Qwen/Qwen2.5-0.5B-Instruct.")
    return repo_id


def info(repo_id: str, revision: str | None = None, *, token: str | None = None) -> HubModel:
    """Files, sizes, licence and gated state of ``repo_id`` at ``revision``, and its ``config.json``,
    fetched alone into the Hugging Face cache (so `core.models.skeleton(repo_id)` works before any
    weights move). Offline: what the cache holds."""
    repo_id = check_id(repo_id)
    if is_offline():
        return _cached_info(repo_id, revision)
    from huggingface_hub import HfApi, hf_hub_download

    try:
        model = HfApi(endpoint=endpoint()).model_info(repo_id, revision=revision, files_metadata=True, token=token)
    except Exception as exc:  # noqa: BLE001
        raise _translate(exc, repo_id, revision, doing=f"looking up {repo_id}") from exc
    files = [_hub_file(s) for s in model.siblings or []]
    card = model.card_data.to_dict() if getattr(model, "card_data", None) is not None else {}
    licence = str(card.get("license") or "") or _licence_tag(model.tags or [])
    config, config_error = None, ""
    if any(f.name == "config.json" for f in files):
        try:
            # revision as asked (not the commit): huggingface_hub then records refs/<revision> for offline use.
            path = hf_hub_download(repo_id, "config.json", revision=revision or "main", endpoint=endpoint(),
                                   token=token)
            config = json.loads(Path(path).read_text())
        except Exception as exc:  # noqa: BLE001 - a gated repo shows its facts without its config
            config_error = _translate(exc, repo_id, revision, doing="fetching config.json").args[0]
    else:
        config_error = f"{repo_id} has no config.json: it is not a transformers model."
    out = HubModel(repo_id, revision or "main", model.sha or "", files, licence, model.gated or False, config,
                   config_error, model.downloads or 0)
    try:
        out.cached = _complete(repo_id, out.commit, out.wanted)
    except HubError:  # nothing it could download (no safetensors): the facts still show; `wanted` says why
        out.cached = False
    return out


def _licence_tag(tags: list[str]) -> str:
    return next((t.removeprefix("license:") for t in tags if t.startswith("license:")), "")


def _hub_file(sibling: Any) -> HubFile:
    lfs = getattr(sibling, "lfs", None)
    if lfs is not None:
        sha = lfs.sha256 if hasattr(lfs, "sha256") else lfs["sha256"]
        size = lfs.size if hasattr(lfs, "size") else lfs["size"]
        return HubFile(sibling.rfilename, int(size), str(sha), True)
    return HubFile(sibling.rfilename, int(sibling.size or 0), str(sibling.blob_id or ""), False)


def _cached_info(repo_id: str, revision: str | None) -> HubModel:
    folder = cached_snapshot(repo_id, revision, complete=False)
    if folder is None:
        raise HubError(f"{repo_id} is not in the Hugging Face cache ({cache_dir()}), and HF_HUB_OFFLINE is set, so "
                       "it cannot be looked up. Unset HF_HUB_OFFLINE to reach the Hub, or pick a gallery model to "
                       "look at its architecture offline.")
    files = [HubFile(p.relative_to(folder).as_posix(), p.stat().st_size, "", p.suffix == ".safetensors")
             for p in sorted(folder.rglob("*")) if p.is_file()]
    config = json.loads((folder / "config.json").read_text()) if (folder / "config.json").is_file() else None
    out = HubModel(repo_id, revision or "main", folder.name, files, "", None, config)
    out.cached = bool(_weights_in(folder))
    return out


# --------------------------------------------------------------------------------------------------
# Download


def _wanted(files: list[HubFile], repo_id: str) -> list[HubFile]:
    """The files to fetch: top-level config/tokenizer files and the safetensors weights the model loads
    (the shards when there is an index; never ``consolidated.safetensors``, Mistral's own format)."""
    top = [f for f in files if "/" not in f.name]
    safe = [f for f in top if f.name.endswith(".safetensors")]
    if any(f.name == "model.safetensors.index.json" for f in top):
        weights = [f for f in safe if _SHARD.match(f.name)]
    else:
        weights = [f for f in safe if f.name == "model.safetensors"] or [f for f in safe if not f.name.startswith("consolidated")]
    if not weights:
        names = ", ".join(f.name for f in files if f.name.endswith((".bin", ".pt", ".pth", ".gguf", ".ckpt"))) or "none"
        raise HubError(f"{repo_id} has no safetensors weights that transformers loads (weights found: {names}). "
                       "Adapter Studio does not download pickled weights (loading a pickle can run code hidden in "
                       "it). Choose a repository with *.safetensors files.")
    rest = [f for f in top if f.name.endswith(_KEEP_SUFFIXES)]
    return rest + weights


def _storage(repo_id: str) -> Path:
    return cache_dir() / ("models--" + repo_id.replace("/", "--"))


def cached_snapshot(repo_id: str, revision: str | None = None, *, complete: bool = True) -> Path | None:
    """The snapshot folder of ``repo_id`` in the cache (``complete``: only if it holds weights), else None."""
    storage = _storage(repo_id)
    rev = revision or "main"
    ref = storage / "refs" / rev
    commit = ref.read_text().strip() if ref.is_file() else rev
    folder = storage / "snapshots" / commit
    if not (folder / "config.json").is_file():
        return None
    if complete and not _weights_in(folder):
        return None
    return folder


def _weights_in(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.safetensors"))


def _complete(repo_id: str, commit: str, files: list[HubFile]) -> bool:
    snapshot = _storage(repo_id) / "snapshots" / commit
    return bool(commit) and all(_have(snapshot / f.name, f.size) for f in files)


def _have(path: Path, size: int) -> bool:
    try:
        return path.stat().st_size == size  # follows the symlink to the blob
    except OSError:
        return False


def _free_bytes(path: Path) -> int:
    """Free space on the disk that holds ``path`` (its nearest existing parent)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def download(
    repo_id: str,
    revision: str | None = None,
    *,
    token: str | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    model: HubModel | None = None,
) -> Path:
    """Download what ``repo_id`` needs into the Hugging Face cache and return its snapshot folder.

    Resumes a previous partial download; raises `DownloadCancelled` when ``cancel`` is set (what was
    fetched stays for the next call) and `HubError` for everything a person must fix. ``model`` is an
    `info` answer to reuse. Offline, a complete cached snapshot is returned and anything else refused."""
    repo_id = check_id(repo_id)
    if is_offline():
        folder = cached_snapshot(repo_id, revision)
        if folder is None:
            raise HubError(f"{repo_id} is not in the Hugging Face cache and HF_HUB_OFFLINE is set, so it cannot be "
                           "downloaded. Unset HF_HUB_OFFLINE (or connect to the network) and try again.")
        return folder
    if model is None or model.repo_id != repo_id:
        from huggingface_hub import HfApi

        try:
            hub = HfApi(endpoint=endpoint()).model_info(repo_id, revision=revision, files_metadata=True, token=token)
        except Exception as exc:  # noqa: BLE001
            raise _translate(exc, repo_id, revision, doing=f"looking up {repo_id}") from exc
        files = [_hub_file(s) for s in hub.siblings or []]
        model = HubModel(repo_id, revision or "main", hub.sha or "", files, "", hub.gated or False, None)
    wanted = model.wanted
    storage = _storage(repo_id)
    snapshot = storage / "snapshots" / model.commit
    blobs = storage / "blobs"
    todo = [f for f in wanted if not _have(snapshot / f.name, f.size)]
    have = {f.name: _partial_size(blobs, f) for f in todo}
    total = sum(f.size for f in wanted)
    remaining = sum(f.size - have[f.name] for f in todo)
    free = _free_bytes(storage)
    if remaining > free:
        raise HubError(
            f"Not enough disk space for {repo_id}: it needs {human_bytes(remaining)} more in {cache_dir()}, and that "
            f"disk has {human_bytes(free)} free. Free some space, or point HF_HUB_CACHE (or HF_HOME) at a larger disk.")
    meter = _Meter(total, total - remaining, progress)
    blobs.mkdir(parents=True, exist_ok=True)
    snapshot.mkdir(parents=True, exist_ok=True)
    for f in todo:
        _fetch_file(repo_id, model.commit, f, blobs, token, meter, cancel)
        _link(blobs / f.etag, snapshot / f.name)
    if model.revision != model.commit:
        ref = storage / "refs" / model.revision
        ref.parent.mkdir(parents=True, exist_ok=True)
        ref.write_text(model.commit)
    meter.finish()
    verify(snapshot, wanted, repo_id)
    return snapshot


def _partial_size(blobs: Path, f: HubFile) -> int:
    part = blobs / f"{f.etag}.incomplete"
    try:
        return min(part.stat().st_size, f.size)
    except OSError:
        return 0


class _Meter:
    """Counts bytes across files and reports `Progress` at most ten times a second."""

    def __init__(self, total: int, done: int, callback: ProgressFn | None) -> None:
        self.total, self.done, self.callback = total, done, callback
        self.samples: list[tuple[float, int]] = [(time.monotonic(), done)]
        self.last = 0.0
        self.file = ""

    def add(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last >= 0.1:
            self.report(now)

    def report(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self.last = now
        self.samples.append((now, self.done))
        while len(self.samples) > 2 and now - self.samples[0][0] > 5.0:
            self.samples.pop(0)  # speed over the last ~5 s
        t0, d0 = self.samples[0]
        speed = (self.done - d0) / (now - t0) if now > t0 else 0.0
        eta = (self.total - self.done) / speed if speed > 0 else None
        if self.callback is not None:
            self.callback(Progress(self.done, self.total, speed, eta, self.file))

    def finish(self) -> None:
        self.report()


def _fetch_file(repo_id: str, commit: str, f: HubFile, blobs: Path, token: str | None, meter: _Meter,
                cancel: threading.Event | None) -> None:
    """Fetch one file into ``blobs/<etag>``, continuing ``<etag>.incomplete`` with a range request."""
    blob = blobs / f.etag
    if _have(blob, f.size):
        return
    if cancel is not None and cancel.is_set():
        raise _cancelled(repo_id, meter)
    part = blobs / f"{f.etag}.incomplete"
    start = _partial_size(blobs, f)
    digest = _hasher(f)
    if start:
        with part.open("rb") as fh:  # the hash covers the whole file: read what is already here
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
    meter.file = f.name
    got = start
    if start < f.size or f.size == 0:
        got, digest = _stream(repo_id, commit, f, part, start, digest, token, meter, cancel)
    # else: every byte arrived before a cancel or a crash; only the checks below are left (a range
    # request from the end would be answered 416).
    if got != f.size:
        raise HubError(f"The download of {f.name} of {repo_id} ended after {got} bytes, but the Hub says it has "
                       f"{f.size}. Download again to continue it.")
    if f.etag and digest.hexdigest() != f.etag:
        part.unlink(missing_ok=True)  # damaged: resuming it would keep the damage
        raise HubError(f"{f.name} of {repo_id} arrived damaged (its hash is not the Hub's {f.etag}); the damaged copy "
                       "was deleted. Download again.")
    os.replace(part, blob)


def _stream(repo_id: str, commit: str, f: HubFile, part: Path, start: int, digest: Any, token: str | None,
            meter: _Meter, cancel: threading.Event | None) -> tuple[int, Any]:
    """GET the file from byte ``start`` (a range request) onto ``part``; returns the bytes it now holds and
    the hash over them."""
    import httpx2
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    headers = build_hf_headers(token=token)
    headers["Accept-Encoding"] = "identity"
    if start:
        headers["Range"] = f"bytes={start}-"
    url = f"{endpoint()}/{repo_id}/resolve/{quote(commit, safe='')}/{quote(f.name)}"  # hf_hub_url's form
    got = start
    try:
        with get_session().stream("GET", url, headers=headers, follow_redirects=True, timeout=30.0) as response:
            if response.status_code >= 400:
                response.read()
                hf_raise_for_status(response)
            mode = "ab"
            if start and response.status_code == 200:  # the server ignored the range: start over
                mode, got, digest = "wb", 0, _hasher(f)
                meter.add(-start)
            with part.open(mode) as out:
                for chunk in response.iter_bytes():  # as it arrives: a cut loses nothing already received
                    out.write(chunk)
                    digest.update(chunk)
                    got += len(chunk)
                    meter.add(len(chunk))
                    if cancel is not None and cancel.is_set():
                        raise _cancelled(repo_id, meter)
    except (DownloadCancelled, HubError):
        raise
    except httpx2.TransportError as exc:
        raise HubError(
            f"The download of {repo_id} was interrupted in {f.name} after {human_bytes(got)} of {human_bytes(f.size)} "
            f"({type(exc).__name__}: {exc or 'connection closed'}). What was fetched is kept: download again "
            "(`adapter-studio pull` or the Download button) to continue from there.") from exc
    except OSError as exc:
        if getattr(exc, "errno", None) == 28:  # ENOSPC
            raise HubError(f"The disk holding {cache_dir()} is full ({f.name} of {repo_id} could not be written). Free "
                           "some space and download again: it continues where it stopped.") from exc
        raise _translate(exc, repo_id, commit, doing=f"downloading {f.name} of {repo_id}") from exc
    except Exception as exc:  # noqa: BLE001
        raise _translate(exc, repo_id, commit, doing=f"downloading {f.name} of {repo_id}") from exc
    return got, digest


def _cancelled(repo_id: str, meter: _Meter) -> DownloadCancelled:
    return DownloadCancelled(f"Download of {repo_id} cancelled; {human_bytes(meter.done)} of {human_bytes(meter.total)} "
                             "stay in the cache, and the next download continues from there.")


def _hasher(f: HubFile) -> Any:
    """sha256 for an LFS file (its etag); for others git's blob id: sha1 over ``blob <size>\\0`` + content."""
    if f.lfs:
        return hashlib.sha256()
    digest = hashlib.sha1()
    digest.update(b"blob %d\0" % f.size)
    return digest


def _link(blob: Path, pointer: Path) -> None:
    """``snapshots/<commit>/<name>`` -> ``../../blobs/<etag>`` (relative, like huggingface_hub); a copy where
    the file system has no symbolic links."""
    pointer.parent.mkdir(parents=True, exist_ok=True)
    if pointer.is_symlink() or pointer.exists():
        pointer.unlink()
    try:
        os.symlink(os.path.relpath(blob, pointer.parent), pointer)
    except OSError:
        shutil.copyfile(blob, pointer)


def verify(folder: Path, files: list[HubFile] | None = None, repo_id: str = "") -> None:
    """The snapshot is complete and its weights check out: every file has the hub's size, the shard
    index names only present shards, and every safetensors header reads and covers its file."""
    from core.models import check_folder

    for f in files or []:
        if not _have(folder / f.name, f.size):
            raise HubError(f"{folder / f.name} is missing or has the wrong size (the Hub says {f.size} bytes). "
                           f"Download {repo_id or 'the model'} again to complete it.")
    try:
        check_folder(folder)
    except ModelLoadError as exc:
        raise HubError(str(exc)) from exc


# --------------------------------------------------------------------------------------------------
# Errors


def _translate(exc: BaseException, repo_id: str, revision: str | None, *, doing: str) -> HubError:
    """An exception of huggingface_hub / the network as a message for a person."""
    import httpx2
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = endpoint()
    if isinstance(exc, HubError):
        return exc
    if isinstance(exc, GatedRepoError):
        status = exc.response.status_code if exc.response is not None else 0
        if status == 403 or (status != 401 and current_token()):
            return HubError(f"{repo_id} is a gated model and your account has not been given access yet. Request "
                            f"access on its page, {where}/{repo_id}, wait for the approval, then download again.")
        return HubError(f"{repo_id} is a gated model: you must be logged in to download it. Accept its licence on "
                        f"{where}/{repo_id}, create a read token at {where}/settings/tokens, and paste it in the "
                        "token field (or run `hf auth login`).")
    if isinstance(exc, RevisionNotFoundError):
        return HubError(f"{repo_id} has no revision {revision!r} (no such branch, tag or commit). Leave the revision "
                        "empty for the main branch, or check the name on the model's page.")
    if isinstance(exc, RepositoryNotFoundError):
        return HubError(f"There is no model {repo_id!r} on {where} (or it is private and your token cannot see it). "
                        "Check the spelling (ORGANISATION/NAME, case matters), or search for it.")
    if isinstance(exc, RemoteEntryNotFoundError):
        return HubError(f"A file of {repo_id} is missing on the Hub while {doing}: {exc}")
    if isinstance(exc, OfflineModeIsEnabled):
        return HubError(f"HF_HUB_OFFLINE is set, so Adapter Studio cannot reach the Hub ({doing}). Unset it to "
                        "download; cached models still open offline.")
    if isinstance(exc, HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else "?"
        if status == 401 and not repo_id:
            return HubError(f"The Hub refused the token (HTTP 401 while {doing}). Create a new read token at "
                            f"{where}/settings/tokens and paste it again.")
        return HubError(f"The Hub answered HTTP {status} while {doing}: {str(exc).splitlines()[0]}")
    if isinstance(exc, (httpx2.TransportError, ConnectionError)):
        return HubError(f"Cannot reach the Hub at {where} while {doing} ({type(exc).__name__}: {exc}). Check the "
                        "network connection (and a proxy, or HF_ENDPOINT if you use a mirror); models already in "
                        "the cache still open offline.")
    if isinstance(exc, OSError) and getattr(exc, "errno", None) == 28:
        return HubError(f"The disk holding {cache_dir()} is full ({doing}). Free some space and try again.")
    return HubError(f"{type(exc).__name__} while {doing} ({repo_id or endpoint()}): {exc}")


# --------------------------------------------------------------------------------------------------
# The gallery


def gallery() -> list[GalleryEntry]:
    """The popular small models whose config ships in ``assets/gallery/`` (``index.json``, in its order)."""
    index = json.loads((GALLERY_DIR / "index.json").read_text())
    out = []
    for row in index["models"]:
        row = dict(row)
        out.append(GalleryEntry(row.pop("id"), GALLERY_DIR / row.pop("config"), int(row.pop("parameters")),
                                row.pop("licence"), bool(row.pop("gated")), row.pop("note", ""), row))
    return out


def gallery_config(repo_id: str) -> Path | None:
    """The shipped ``config.json`` of a gallery model, or None."""
    for entry in gallery():
        if entry.repo_id == repo_id:
            return entry.config_file
    return None


# --------------------------------------------------------------------------------------------------


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
