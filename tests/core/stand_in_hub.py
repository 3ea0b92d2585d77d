"""A stand-in for the Hugging Face Hub on 127.0.0.1, for tests without internet.

It answers the requests the real ``huggingface_hub`` client (and ``core.hub``) makes, as the Hub does:

- ``GET /api/models?search=&limit=``: the search, a JSON list;
- ``GET /api/models/ID`` and ``/api/models/ID/revision/REV`` (``?blobs=true`` adds sizes and LFS facts
  to ``siblings``): model info, with ``gated`` and the licence in ``cardData``;
- ``HEAD`` / ``GET /ID/resolve/REV/FILE``: the file, with ``ETag`` (the git blob id; for an LFS file
  ``X-Linked-Etag`` is its sha256), ``X-Repo-Commit``, ``Content-Length``, ``Accept-Ranges`` and byte
  ranges (``Range: bytes=N-`` answers 206 with ``Content-Range``);
- ``GET /api/whoami-v2``: who a token belongs to (``huggingface_hub.login`` validates a token with it);
- errors with the Hub's ``X-Error-Code`` header, which ``huggingface_hub`` turns into its exception
  classes: ``RepoNotFound`` (404), ``RevisionNotFound`` (404), ``EntryNotFound`` (404) and ``GatedRepo``
  (401 without a token, 403 with a token that has no access).

Faults, for the tests of resume and cancel: ``cut_after`` (bytes) closes the connection in the middle of
the next file body it serves (once), ``delay`` (seconds) sleeps before every 64 KiB chunk.

Our own code on the standard library's ``http.server``; ``log`` records each request (method, path,
Range header, Authorization header) so tests can assert what the client asked for.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

GOOD_TOKEN = "hf_stand_in_good_token"  # has access to every repo, gated ones included
NO_ACCESS_TOKEN = "hf_stand_in_no_access"  # a valid account that has not been granted the gated repos
CHUNK = 64 * 1024
LFS_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt")


def git_blob_id(data: bytes) -> str:
    """The git object id of a file's content (what the Hub sends as the ETag of a non-LFS file)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Repo:
    """One model repository: its files at one commit (``revisions`` maps branch/tag names to it)."""

    repo_id: str
    files: dict[str, bytes]
    commit: str = ""
    gated: Any = False  # False, "auto" or "manual", as the Hub's API says
    license: str = "apache-2.0"
    revisions: tuple[str, ...] = ("main",)
    downloads: int = 0
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.commit:
            digest = hashlib.sha1()
            for name in sorted(self.files):
                digest.update(name.encode() + b"\0" + hashlib.sha1(self.files[name]).digest())
            self.commit = digest.hexdigest()

    @classmethod
    def from_folder(cls, repo_id: str, folder: Path, **kwargs: Any) -> "Repo":
        files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
        return cls(repo_id, files, **kwargs)

    def sibling(self, name: str, blobs: bool) -> dict[str, Any]:
        data = self.files[name]
        out: dict[str, Any] = {"rfilename": name}
        if blobs:
            out["size"] = len(data)
            out["blobId"] = git_blob_id(data)
            if name.endswith(LFS_SUFFIXES):
                out["lfs"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
        return out


class StandInHub:
    """Serve ``repos`` on 127.0.0.1 (an ephemeral port) until `close`; ``url`` is the endpoint."""

    def __init__(self, repos: list[Repo] | None = None) -> None:
        self.repos: dict[str, Repo] = {r.repo_id: r for r in repos or []}
        self.cut_after: int | None = None
        self.delay = 0.0
        self.log: list[dict[str, Any]] = []
        self.body_bytes = 0  # file bytes sent (GET bodies), for tests of what a resume fetched again
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet: tests read `hub.log`
                pass

            def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
                hub._handle(self, head=True)

            def do_GET(self) -> None:  # noqa: N802
                hub._handle(self, head=False)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="stand-in-hub", daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def add(self, repo: Repo) -> Repo:
        self.repos[repo.repo_id] = repo
        return repo

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> "StandInHub":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---- requests --------------------------------------------------------------------------------

    def _handle(self, req: BaseHTTPRequestHandler, *, head: bool) -> None:
        parts = urlsplit(req.path)
        path, query = unquote(parts.path), parse_qs(parts.query)
        auth = req.headers.get("Authorization", "")
        self.log.append({"method": req.command, "path": path, "query": query, "range": req.headers.get("Range"),
                         "auth": auth})
        token = auth.removeprefix("Bearer ").strip() or None
        try:
            if path == "/api/whoami-v2":
                return self._whoami(req, token)
            if path == "/api/models":
                return self._search(req, query)
            if path.startswith("/api/models/"):
                return self._info(req, path.removeprefix("/api/models/"), query)
            match = re.match(r"^/(.+?)/resolve/([^/]+)/(.+)$", path)
            if match:
                return self._resolve(req, match.group(1), match.group(2), match.group(3), token, head)
            self._error(req, 404, "", "Not found")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _send_json(self, req: BaseHTTPRequestHandler, body: Any, status: int = 200) -> None:
        data = json.dumps(body).encode()
        req.send_response(status)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        if req.command != "HEAD":
            req.wfile.write(data)

    def _error(self, req: BaseHTTPRequestHandler, status: int, code: str, message: str) -> None:
        data = json.dumps({"error": message}).encode()
        req.send_response(status)
        if code:
            req.send_header("X-Error-Code", code)
        req.send_header("X-Error-Message", message)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        if req.command != "HEAD":
            req.wfile.write(data)

    def _whoami(self, req: BaseHTTPRequestHandler, token: str | None) -> None:
        if token not in (GOOD_TOKEN, NO_ACCESS_TOKEN):
            return self._error(req, 401, "", "Invalid credentials in Authorization header")
        self._send_json(req, {"type": "user", "name": "stand-in-user",
                              "auth": {"type": "access_token", "accessToken": {"displayName": "stand-in", "role": "read"}}})

    def _summary(self, repo: Repo) -> dict[str, Any]:
        return {"id": repo.repo_id, "modelId": repo.repo_id, "_id": repo.commit[:24], "private": False,
                "gated": repo.gated, "downloads": repo.downloads, "likes": 0, "tags": ["transformers", "safetensors"],
                "pipeline_tag": "text-generation", "library_name": "transformers", "createdAt": "2026-01-01T00:00:00.000Z"}

    def _search(self, req: BaseHTTPRequestHandler, query: dict[str, list[str]]) -> None:
        text = (query.get("search") or [""])[0].lower()
        limit = int((query.get("limit") or ["1000"])[0])
        hits = [self._summary(r) for r in sorted(self.repos.values(), key=lambda r: -r.downloads)
                if text in r.repo_id.lower()]
        self._send_json(req, hits[:limit])

    def _find(self, rest: str) -> tuple[Repo | None, str]:
        """``org/name[/revision/REV]`` -> (repo, what remains after the id)."""
        for repo_id in sorted(self.repos, key=len, reverse=True):
            if rest == repo_id or rest.startswith(repo_id + "/"):
                return self.repos[repo_id], rest[len(repo_id):]
        return None, rest

    def _revision_ok(self, repo: Repo, revision: str) -> bool:
        return revision in repo.revisions or revision == repo.commit

    def _info(self, req: BaseHTTPRequestHandler, rest: str, query: dict[str, list[str]]) -> None:
        repo, tail = self._find(rest)
        if repo is None:
            return self._error(req, 404, "RepoNotFound", "Repository not found")
        if tail.startswith("/revision/"):
            revision = tail.removeprefix("/revision/")
            if not self._revision_ok(repo, revision):
                return self._error(req, 404, "RevisionNotFound", f"Invalid rev id: {revision}")
        elif tail:
            return self._error(req, 404, "", "Not found")
        blobs = (query.get("blobs") or ["false"])[0].lower() == "true" or bool(query.get("expand"))
        body = {**self._summary(repo), "sha": repo.commit, "lastModified": "2026-01-01T00:00:00.000Z",
                "cardData": {"license": repo.license}, "siblings": [repo.sibling(n, blobs) for n in sorted(repo.files)],
                "usedStorage": sum(len(d) for d in repo.files.values()), **repo.meta}
        self._send_json(req, body)

    def _resolve(self, req: BaseHTTPRequestHandler, repo_id: str, revision: str, name: str, token: str | None,
                 head: bool) -> None:
        repo = self.repos.get(repo_id)
        if repo is None:
            return self._error(req, 404, "RepoNotFound", "Repository not found")
        if not self._revision_ok(repo, revision):
            return self._error(req, 404, "RevisionNotFound", f"Invalid rev id: {revision}")
        if repo.gated and token != GOOD_TOKEN:
            if token is None:
                return self._error(req, 401, "GatedRepo", "Access to this model is restricted; you must be authenticated.")
            return self._error(req, 403, "GatedRepo", "Access to this model is restricted and you are not in the authorized list.")
        data = repo.files.get(name)
        if data is None:
            return self._error(req, 404, "EntryNotFound", f"{name} does not exist at {revision}")
        start = 0
        ranged = req.headers.get("Range")
        if ranged:
            match = re.match(r"bytes=(\d+)-$", ranged.strip())
            start = int(match.group(1)) if match else 0
            if start >= len(data) and len(data):
                req.send_response(416)
                req.send_header("Content-Range", f"bytes */{len(data)}")
                req.send_header("Content-Length", "0")
                req.end_headers()
                return
        body = data[start:]
        req.send_response(206 if ranged else 200)
        req.send_header("Content-Type", "application/octet-stream")
        req.send_header("Content-Length", str(len(body)))
        req.send_header("Accept-Ranges", "bytes")
        req.send_header("ETag", f'"{git_blob_id(data)}"')
        req.send_header("X-Repo-Commit", repo.commit)
        if name.endswith(LFS_SUFFIXES):
            req.send_header("X-Linked-Etag", f'"{hashlib.sha256(data).hexdigest()}"')
            req.send_header("X-Linked-Size", str(len(data)))
        if ranged:
            req.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        req.end_headers()
        if head:
            return
        sent = 0
        while sent < len(body):
            if self.delay:
                time.sleep(self.delay)
            chunk = body[sent:sent + CHUNK]
            if self.cut_after is not None and sent + len(chunk) > self.cut_after:
                keep = max(0, self.cut_after - sent)
                req.wfile.write(chunk[:keep])
                req.wfile.flush()
                self.body_bytes += keep
                self.cut_after = None  # once: the next request is served whole
                req.close_connection = True
                return
            req.wfile.write(chunk)
            sent += len(chunk)
            self.body_bytes += len(chunk)


def tiny_qwen2_folder(dest: Path) -> Path:
    """A tiny random Qwen2 model (an architecture outside the built-ins), saved as a Hugging Face
    folder with safetensors weights and the built-in models' byte-level tokenizer. Built at test time."""
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    from core.models import tiny_tokenizer

    config = Qwen2Config(
        vocab_size=260, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=512, tie_word_embeddings=False,
        bos_token_id=0, eos_token_id=2, pad_token_id=3,
    )  # fmt: skip
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    dest.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(dest), safe_serialization=True)
    tiny_tokenizer().save_pretrained(str(dest))
    (dest / "README.md").write_text("---\nlicense: apache-2.0\n---\nA tiny random Qwen2 for tests.\n")
    return dest

