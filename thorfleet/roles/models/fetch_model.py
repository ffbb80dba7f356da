#!/usr/bin/env python3
"""thorfleet's model fetcher, run on the unit by the models role: `fetch_model.py SPEC.json`;
and `fetch_model.py --state DEST FILES_JSON`, the models role's fact (the same stamp check, no file read).

SPEC: {"name", "dest", "source", "id", "revision", "url", "mirror", "incoming", "cli", "files": [{"path", "size", "sha256"}]}.
Files already verified (a stamp in DEST/.thorfleet-verified.json matching their size and mtime,
and saying where the file came from)
are not read again. Others are hashed; a wrong one is deleted. Missing ones are taken from
`incoming` (where the fleet's multicast fan-out put them) when they are there and right, else fetched with the
hub's own CLI (`modelscope download` or `hf download`, both resume from their partial files), or
with curl (resuming) from a URL or from the controller's cache (`mirror`), then checked against the size and sha256 the hub published (or the config gave).
Exit 0: every file verified. Exit 1: a message saying which file and why, on stderr.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

STAMPS = ".thorfleet-verified.json"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 24):
            digest.update(chunk)
    return digest.hexdigest()


def load_stamps(dest: Path) -> dict[str, Any]:
    try:
        found = json.loads((dest / STAMPS).read_text())
        return found if isinstance(found, dict) else {}
    except (OSError, ValueError):
        return {}


def save_stamps(dest: Path, stamps: dict[str, Any]) -> None:
    partial = dest / (STAMPS + ".new")
    partial.write_text(json.dumps(stamps, indent=1, sort_keys=True))
    partial.replace(dest / STAMPS)


def stamped(path: Path, stamp: dict[str, Any] | None, want: dict[str, Any]) -> bool:
    """The file is as it was when it was last verified, and that verification still holds."""
    if not stamp or not path.is_file():
        return False
    stat = path.stat()
    return (stamp["size"], stamp["mtime_ns"]) == (stat.st_size, stat.st_mtime_ns) and \
        (want["sha256"] is None or stamp["sha256"] == want["sha256"])


def verify(path: Path, want: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    """(None, its stamp) when the file is right, else (why not, None)."""
    stat = path.stat()
    if want["size"] is not None and stat.st_size != want["size"]:
        return f"size {stat.st_size} is not the expected {want['size']}", None
    found = sha256(path)
    if want["sha256"] is not None and found != want["sha256"]:
        return f"sha256 {found} is not the expected {want['sha256']}", None
    return None, {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": found}


def curl(url: str, target: Path) -> int:
    """One file over HTTP, resuming a `.part` left by an earlier try."""
    target.parent.mkdir(parents=True, exist_ok=True)
    part = str(target) + ".part"
    status = subprocess.call(["curl", "-fsSL", "--retry", "3", "-C", "-", "-o", part, url])
    if status == 0:
        os.replace(part, target)
    return status


def take_incoming(spec: dict[str, Any], dest: Path, todo: list[dict[str, Any]], stamps: dict[str, Any]) -> list[dict[str, Any]]:
    """Files the fan-out delivered, checked and linked (or copied) into place; returns those still to fetch.
    A wrong copy is deleted there and fetched again, never used."""
    left = []
    for want in todo:
        received = Path(spec["incoming"]) / want["path"]
        problem, stamp = ("not received", None) if not received.is_file() else verify(received, want)
        if stamp is not None:
            path = dest / want["path"]
            path.parent.mkdir(parents=True, exist_ok=True)
            part = Path(f"{path}.part")
            part.unlink(missing_ok=True)
            try:
                os.link(received, part)
            except OSError:  # another filesystem
                shutil.copy2(received, part)
            os.replace(part, path)
            stamps[want["path"]] = {**stamp, "mtime_ns": path.stat().st_mtime_ns, "from": "fan-out"}
            continue
        if received.is_file():
            print(f"{spec['name']}: {want['path']}: the fan-out's copy is wrong ({problem}); deleted, fetching it again",
                  flush=True)
            received.unlink()
        left.append(want)
    return left


def origin(spec: dict[str, Any]) -> str:
    """Where `download` takes files from, as `thorfleet hosts --artifacts` shows it."""
    return "controller's cache" if spec.get("mirror") else "hub" if spec["source"] != "url" else "url"


def download(spec: dict[str, Any], dest: Path, files: list[dict[str, Any]]) -> int:
    paths = [f["path"] for f in files]
    if spec.get("mirror"):  # model_store.fetch: controller
        print(f"fetching {len(paths)} files from {spec['mirror']}", flush=True)
        return max(curl(f"{spec['mirror']}/{quote(path)}", dest / path) for path in paths)
    if spec["source"] == "modelscope":
        command = [spec["cli"]["modelscope"], "download", "--model", spec["id"], "--local_dir", str(dest)]
        command += ["--revision", spec["revision"]] if spec["revision"] else []
        command += ["--include", *paths]
    elif spec["source"] == "huggingface":
        command = [spec["cli"]["hf"], "download", spec["id"], *paths, "--local-dir", str(dest)]
        command += ["--revision", spec["revision"]] if spec["revision"] else []
    else:
        return curl(spec["url"], dest / paths[0])
    print("fetching:", " ".join(command), flush=True)
    return subprocess.call(command)


def state(dest: Path, files: list[dict[str, Any]]) -> dict[str, Any]:
    """Which files carry a still-valid stamp, how many bytes each has so far (partial downloads
    included), and the free space where the model goes. Reads no file: it runs on every deploy."""
    stamps = load_stamps(dest)
    found = {}
    for want in files:
        path = dest / want["path"]
        partial = max([p.stat().st_size for p in (Path(f"{path}.incomplete"), Path(f"{path}.part")) if p.is_file()] or [0])
        found[want["path"]] = {"verified": stamped(path, stamps.get(want["path"]), want),
                               "bytes": path.stat().st_size if path.is_file() else partial}
    existing = dest
    while not existing.is_dir():
        existing = existing.parent
    disk = os.statvfs(existing)
    return {"files": found, "free": disk.f_bavail * disk.f_frsize}


def main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    dest = Path(spec["dest"])
    dest.mkdir(parents=True, exist_ok=True)
    stamps = load_stamps(dest)
    todo = []
    for want in spec["files"]:
        path = dest / want["path"]
        if stamped(path, stamps.get(want["path"]), want):
            continue
        if path.is_file():
            problem, stamp = verify(path, want)
            if stamp is not None:
                stamps[want["path"]] = {**stamp, "from": stamps.get(want["path"], {}).get("from", "found in place")}
                continue
            print(f"{spec['name']}: {want['path']}: {problem}; deleted, fetching it again", flush=True)
            path.unlink()
        todo.append(want)
    if todo and spec.get("incoming"):
        todo = take_incoming(spec, dest, todo, stamps)
    save_stamps(dest, stamps)
    if todo:
        status = download(spec, dest, todo)
        if status != 0:
            print(f"thorfleet: {spec['name']}: the download stopped (exit {status}); what arrived is kept "
                  "and the next deploy resumes it", file=sys.stderr)
            return 1
        for want in todo:
            path = dest / want["path"]
            problem, stamp = ("missing after the download", None) if not path.is_file() else verify(path, want)
            if stamp is None:
                if path.is_file():
                    path.unlink()
                print(f"thorfleet: {spec['name']}: {want['path']} {problem}; deleted, the next deploy fetches it again",
                      file=sys.stderr)
                return 1
            stamps[want["path"]] = {**stamp, "from": origin(spec)}
        save_stamps(dest, stamps)
    print(f"{spec['name']}: {len(spec['files'])} files verified in {dest}")
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "--state":
        print(json.dumps(state(Path(sys.argv[2]), json.loads(sys.argv[3]))))
        sys.exit(0)
    if sys.argv[1] == "--states":  # several folders in one command: [[dest, files], ...]
        print(json.dumps([state(Path(dest), files) for dest, files in json.loads(sys.argv[2])]))
        sys.exit(0)
    sys.exit(main(sys.argv[1]))
