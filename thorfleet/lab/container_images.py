"""The lab's container images: NVIDIA's serving images cannot be pulled here, so each unit's Docker
gets `thorfleet-lab/<engine>:standin` images instead, loaded with `docker load`.

The image is made without a registry or a Docker engine on the controller: a root file system
holding the lab image's own Python (binary, shared libraries, standard library) and the stand-in
server (standins/openai_standin.py), written in `docker save`'s archive format.
"""

import hashlib
import io
import json
import platform
import tarfile
from collections.abc import Iterable
from pathlib import Path

from thorfleet.lab import image
from thorfleet.lab.services import FILES
from thorfleet.lab.system import run
from thorfleet.roles.engines.config import ContainerEngine
from thorfleet.roles.engines.kinds import KINDS, kind_name

ARCHIVE = FILES / "images" / "thorfleet-lab-standins.tar"


def standin_tags(kinds: Iterable[type]) -> list[str]:
    """One stand-in tag for each container kind: a new kind gets its own without a change here."""
    return [f"thorfleet-lab/{kind_name(kind)}:standin" for kind in kinds if issubclass(kind, ContainerEngine)]


TAGS = standin_tags(KINDS)
STANDIN = Path(__file__).parent / "standins" / "openai_standin.py"
CAPTURED_HELP = sorted((STANDIN.parent / "help").glob("*.txt"))
SKIP = ("test", "idlelib", "tkinter", "ensurepip", "lib2to3", "pydoc_data", "turtledemo", "site-packages",
        "dist-packages", "__pycache__")
ENTRYPOINT = ["/usr/bin/python3", "/opt/thorfleet-lab/openai_standin.py"]


def _python_files(root: Path) -> list[str]:
    """The interpreter, the libraries it links and its standard library, as paths inside the image."""
    binary = (root / "usr/bin/python3").resolve().relative_to(root)
    libs = run("chroot", str(root), "ldd", f"/{binary}").stdout
    paths = {f"/{binary}", "/usr/bin/python3"}
    for line in libs.splitlines():
        parts = line.split()
        paths.update(p for p in parts if p.startswith("/"))
    stdlib = root / "usr/lib" / binary.name
    for path in stdlib.rglob("*"):
        relative = path.relative_to(stdlib)
        if path.is_file() and not any(part in SKIP for part in relative.parts):
            paths.add(f"/{path.relative_to(root)}")
    return sorted(paths)


def _resolve_inside(root: Path, path: Path) -> Path:
    """Follow symlinks as they resolve inside the image (absolute links point into `root`)."""
    for _ in range(40):
        if not path.is_symlink():
            return path
        target = Path(path.readlink())
        path = root / str(target).lstrip("/") if target.is_absolute() else path.parent / target
    raise OSError(f"symlink loop at {path}")


def _layer(root: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as layer:
        for path in _python_files(root):
            source = root / path.lstrip("/")
            if path != "/usr/bin/python3":  # libraries through merged-/usr links: store the files themselves
                source = _resolve_inside(root, source)
            info = layer.gettarinfo(str(source), arcname=path.lstrip("/"))
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "root", "root"
            if info.issym():
                layer.addfile(info)
            else:
                with open(source, "rb") as data:
                    layer.addfile(info, data)
        for source, name, mode in [(STANDIN, STANDIN.name, 0o755)] + [(h, f"help/{h.name}", 0o644) for h in CAPTURED_HELP]:
            data = source.read_bytes()
            info = tarfile.TarInfo(f"opt/thorfleet-lab/{name}")
            info.size, info.mode = len(data), mode
            layer.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def build() -> Path:
    """Write the image archive unless it is there for this stand-in and this lab image."""
    content = b"".join(path.read_bytes() for path in [STANDIN, *CAPTURED_HELP])
    stamp = hashlib.sha256(content + image.recipe_id().encode() + " ".join(TAGS).encode()).hexdigest()[:16]
    marker = ARCHIVE.with_suffix(".stamp")
    if ARCHIVE.exists() and marker.exists() and marker.read_text() == stamp:
        return ARCHIVE
    layer = _layer(image.ROOTFS)
    layer_id = hashlib.sha256(layer).hexdigest()
    config = json.dumps({
        "architecture": {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine()), "os": "linux", "created": "2026-01-01T00:00:00Z",
        "config": {"Entrypoint": ENTRYPOINT, "Env": ["PATH=/usr/local/bin:/usr/bin:/bin"], "WorkingDir": "/",
                   "Labels": {"org.thorfleet.lab": "stand-in for NVIDIA's serving images; no GPU, no model"}},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer_id}"]},
        "history": [{"created": "2026-01-01T00:00:00Z", "created_by": "thorfleet lab"}],
    }).encode()
    config_id = hashlib.sha256(config).hexdigest()
    manifest = json.dumps([{"Config": f"{config_id}.json", "RepoTags": TAGS, "Layers": [f"{layer_id}/layer.tar"]}]).encode()
    ARCHIVE.parent.mkdir(parents=True, exist_ok=True)
    partial = ARCHIVE.with_suffix(".partial")
    with tarfile.open(partial, "w") as archive:
        for name, data in ((f"{layer_id}/layer.tar", layer), (f"{config_id}.json", config), ("manifest.json", manifest)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    partial.rename(ARCHIVE)
    marker.write_text(stamp)
    return ARCHIVE


def image_id() -> str:
    """The Docker image ID of the archive's image: `sha256:` and the digest of its config."""
    with tarfile.open(ARCHIVE) as archive:
        manifest = json.load(archive.extractfile("manifest.json"))
    return "sha256:" + manifest[0]["Config"].removesuffix(".json")
