"""The controller's HTTP server for the lab: a ModelScope-compatible endpoint, a package index, files.

What each path stands in for:
  /api/v1/models/OWNER/NAME/repo/files   ModelScope's file listing (modelscope_hub _legacy_api.py)
  /api/v1/models/OWNER/NAME/repo         ModelScope's file download (?Revision=…&FilePath=…, Range)
  /simple/PROJECT/                       a PEP 503 package index over the lab's wheelhouse (PyPI)
  /files/PATH                            plain files (lab container images, raw model files)
Only the `master` revision exists. Bound to the lab bridge's address, never to the outside.
Every file transfer is recorded in layout.HTTP_TRANSFERS (tests count them); layout.HTTP_RATE,
when present, slows transfers down to that many bytes per second (tests interrupt them).
"""

import hashlib
import html
import json
import re
import sys
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from thorfleet.core.http_files import send_file
from thorfleet.lab import layout

REPO_RE = re.compile(r"^/api/v1/models/([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)/repo(/files)?$")


@lru_cache(maxsize=256)
def _sha256(path: Path, mtime: float) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _normalize(project: str) -> str:
    return re.sub(r"[-_.]+", "-", project).lower()


class LabHandler(BaseHTTPRequestHandler):
    server_version = "thorfleet-lab"
    models: Path
    wheels: Path
    files: Path

    def log_message(self, format, *args):
        sys.stderr.write(f"{self.address_string()} {format % args}\n")

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _not_found(self, what: str) -> None:
        self._json(404, {"Code": 10010205001, "Message": f"{what} not found", "Success": False})

    def _html(self, body: str) -> None:
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        path, query = unquote(url.path), parse_qs(url.query)
        if match := REPO_RE.match(path):
            return self._modelscope(match.group(1), bool(match.group(2)), query)
        if path.startswith("/simple"):
            return self._simple(path)
        if path.startswith("/wheels/"):
            return self._file(self.wheels, path.removeprefix("/wheels/"))
        if path.startswith("/files/"):
            return self._file(self.files, path.removeprefix("/files/"))
        self._not_found(path)

    def _inside(self, root: Path, relative: str) -> Path | None:
        target = (root / relative).resolve()
        return target if target.is_file() and target.is_relative_to(root.resolve()) else None

    def _modelscope(self, repo: str, listing: bool, query: dict) -> None:
        root = self.models / repo
        revision = query.get("Revision", ["master"])[0]
        if not root.is_dir():
            return self._not_found(f"model {repo}")
        if revision != "master":
            return self._not_found(f"revision {revision} of {repo}")
        if listing:
            files = [{
                "Name": p.name, "Path": str(p.relative_to(root)), "Type": "blob", "Size": p.stat().st_size,
                "Sha256": _sha256(p, p.stat().st_mtime), "Revision": "master",
            } for p in sorted(root.rglob("*")) if p.is_file()]
            return self._json(200, {"Code": 200, "Data": {"Files": files}, "Success": True})
        file_path = query.get("FilePath", [""])[0]
        self._file(root, file_path)

    def _simple(self, path: str) -> None:
        wheels = sorted(self.wheels.glob("*.whl"))
        parts = [p for p in path.split("/") if p][1:]
        if not parts:
            names = sorted({_normalize(w.name.split("-")[0]) for w in wheels})
            return self._html("".join(f'<a href="/simple/{n}/">{n}</a><br>\n' for n in names))
        project = _normalize(parts[0])
        links = [
            f'<a href="/wheels/{html.escape(w.name)}#sha256={_sha256(w, w.stat().st_mtime)}">{html.escape(w.name)}</a><br>\n'
            for w in wheels if _normalize(w.name.split("-")[0]) == project
        ]
        if not links:
            return self._not_found(f"project {project}")
        self._html("".join(links))

    def _file(self, root: Path, relative: str) -> None:
        target = self._inside(root, relative)
        if target is None:
            return self._not_found(relative)
        start, sent = 0, 0
        try:
            start, sent = send_file(self, target, _rate())
        finally:
            if self.command == "GET":
                _record({"file": relative, "start": start, "sent": sent, "client": self.client_address[0]})

    do_HEAD = do_GET  # HEAD bodies are dropped by clients; the headers are what they read


def _rate() -> int | None:
    """The transfer rate limit a test set with `faults.throttle`, in bytes per second."""
    try:
        return int(layout.HTTP_RATE.read_text())
    except (OSError, ValueError):
        return None


def _record(transfer: dict) -> None:
    with open(layout.HTTP_TRANSFERS, "a") as log:
        log.write(json.dumps(transfer) + "\n")


def make_server(address: str, port: int, models: Path, wheels: Path, files: Path) -> ThreadingHTTPServer:
    handler = type("Handler", (LabHandler,), {"models": models, "wheels": wheels, "files": files})
    ThreadingHTTPServer.allow_reuse_address = True
    return ThreadingHTTPServer((address, port), handler)
