"""Download once, distribute: the controller fetches each model file once and serves it to the units.

With `model_store.fetch: controller` the deploy downloads every file the units need into the
controller's cache (`model_store.controller_cache`), resuming a partial file and checking its
sha256, then serves that cache over HTTP on `model_store.serve_address:serve_port` while the
deploy runs. Units pull from there (fetch_model.py, curl with resume) and check the sha256 again,
so a model crosses the internet once however many units need it, and units without internet get it.
"""

import hashlib
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from thorfleet.core.http_files import send_file
from thorfleet.roles.models.config import ModelConfig, ModelStoreConfig
from thorfleet.roles.models.fetch_model import sha256  # the same hashing the units do
from thorfleet.roles.models.hub import HUGGINGFACE, MODELSCOPE, HubError, HubFile

_lock = threading.Lock()
_server: ThreadingHTTPServer | None = None
uplink_bytes = 0  # what this deploy downloaded from the hubs (the fan-out's log says it)


def cache_key(model: ModelConfig) -> str:
    """Where a model's files sit in the cache and on the server: the same repository and revision
    are one folder, whichever model names point at them."""
    if model.source == "url":
        return f"url/{hashlib.sha256((model.url or '').encode()).hexdigest()[:16]}"
    return f"{model.source}/{model.id}/{model.revision or 'default'}"


def file_url(model: ModelConfig, store: ModelStoreConfig, path: str) -> str:
    """The hub's download address of one file (the same ones the hubs' own CLIs use)."""
    if model.source == "url":
        return model.url or ""
    if model.source == "modelscope":
        url = f"{(store.modelscope_endpoint or MODELSCOPE).rstrip('/')}/api/v1/models/{model.id}/repo?FilePath={quote(path)}"
        return url + (f"&Revision={quote(model.revision)}" if model.revision else "")
    return f"{(store.hf_endpoint or HUGGINGFACE).rstrip('/')}/{model.id}/resolve/{quote(model.revision or 'main')}/{quote(path)}"


def _verified(target: Path, want: HubFile) -> bool:
    """A cached file is kept when its size and sha256 are right; its sha256 is remembered beside it."""
    if not target.is_file() or (want.size is not None and target.stat().st_size != want.size):
        return False
    memo = target.with_name(target.name + ".sha256")
    if memo.is_file() and memo.stat().st_mtime_ns >= target.stat().st_mtime_ns:
        found = memo.read_text().strip()
    else:
        found = sha256(target)
        memo.write_text(found + "\n")
    return want.sha256 is None or found == want.sha256


def _download(url: str, target: Path, want: HubFile, progress: Progress) -> None:
    part = target.with_name(target.name + ".part")
    start = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={start}-"} if start else {})
    try:
        response = urllib.request.urlopen(request, timeout=60)
    except urllib.error.HTTPError as err:
        raise HubError(f"{url} answered {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError) as err:
        raise HubError(f"{url} could not be read: {getattr(err, 'reason', err)}") from None
    if start and response.status != 206:
        start = 0  # the server ignored the range: start over
    global uplink_bytes
    task = progress.add_task(target.name, total=want.size, completed=start)
    with response, open(part, "ab" if start else "wb") as out:
        while block := response.read(1 << 20):
            out.write(block)
            uplink_bytes += len(block)
            progress.advance(task, len(block))
    part.replace(target)
    if not _verified(target, want):
        target.unlink()
        raise HubError(f"{target.name} from {url} does not have the published size and sha256; deleted")


def ensure(model: ModelConfig, files: list[HubFile], store: ModelStoreConfig) -> str:
    """Every file of the model in the controller's cache and verified; returns its cache key."""
    key = cache_key(model)
    folder = Path(store.controller_cache).expanduser() / key
    with _lock:  # hosts prepare in parallel: one download per file
        missing = [f for f in files if not _verified(folder / f.path, f)]
        if missing:
            columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
            with Progress(*columns, transient=True) as progress:
                for f in missing:
                    (folder / f.path).parent.mkdir(parents=True, exist_ok=True)
                    _download(file_url(model, store, f.path), folder / f.path, f, progress)
    return key


class _CacheHandler(BaseHTTPRequestHandler):
    """GET/HEAD of files under the cache, with Range (units resume), nothing else."""

    root: Path

    def do_GET(self) -> None:
        target = (self.root / unquote(urlsplit(self.path).path).lstrip("/")).resolve()
        if not target.is_relative_to(self.root) or not target.is_file() or target.name.endswith((".part", ".sha256")):
            self.send_error(404)
            return
        send_file(self, target)

    do_HEAD = do_GET

    def log_message(self, format: str, *args: Any) -> None:  # pyinfra's output is the deploy's; transfers are not news
        pass


def serve(store: ModelStoreConfig) -> str:
    """Serve the controller's cache (read-only, this process's lifetime); returns its base URL."""
    global _server
    with _lock:
        if _server is None:
            root = Path(store.controller_cache).expanduser().resolve()
            root.mkdir(parents=True, exist_ok=True)
            handler = type("Handler", (_CacheHandler,), {"root": root})
            _server = ThreadingHTTPServer((str(store.serve_address), store.serve_port), handler)
            threading.Thread(target=_server.serve_forever, daemon=True).start()
    return f"http://{store.serve_address}:{store.serve_port}"
