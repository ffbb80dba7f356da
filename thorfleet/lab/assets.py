"""Everything the lab units cannot fetch themselves, prepared once on the controller and cached."""

import shutil
import subprocess

from thorfleet.lab import container_images, downloads, lab_models, layout, sources
from thorfleet.lab import unit as units
from thorfleet.lab.layout import UnitLayout
from thorfleet.lab.system import LabError
from thorfleet.roles.base.config import BaseConfig
from thorfleet.roles.models.config import ModelStoreConfig

UNIT_PYTHON = "3.13"  # Debian trixie's python3, for the wheelhouse


def wheel_requirements() -> list[str]:
    """What the deploy installs with pip, at the versions its config pins by default."""
    return [f"jetson-stats=={BaseConfig().jetson_stats_version}", f"modelscope=={ModelStoreConfig().modelscope_version}"]


def prepare(log=print) -> None:
    sources.llama_cpp_mirror()
    sources.whisper_cpp_mirror()
    downloads.wheelhouse(wheel_requirements(), UNIT_PYTHON)
    lab_models.ensure_models(log)
    container_images.build()


def publish_images(log=print) -> None:
    """The stand-in images in the lab's registry (the stand-in for Docker Hub, which an image mirror
    proxies), unless it holds this build of them."""
    stamp = layout.REGISTRY / "published"
    if stamp.is_file() and stamp.read_text() == container_images.image_id():
        return
    for tag in container_images.TAGS:
        result = subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"docker-archive:{container_images.ARCHIVE}:{tag}",
                                 f"docker://{layout.CONTROLLER_ADDRESS}:{layout.REGISTRY_PORT}/{tag}"], capture_output=True, text=True)
        if result.returncode:
            raise LabError(f"skopeo could not put {tag} into the lab's registry: {result.stderr.strip()[-400:]}")
    stamp.write_text(container_images.image_id())
    log(f"lab registry: {', '.join(container_images.TAGS)}")


def load_images(unit: UnitLayout, log=print) -> None:
    """`docker load` the lab's stand-in images into the unit's Docker, unless it has them."""
    present = units.exec_in(unit, "docker", "image", "inspect", "--format", "{{.Id}}", *container_images.TAGS)
    if set(present.stdout.split()) == {container_images.image_id()}:
        return
    inside = "/var/cache/thorfleet-lab/" + container_images.ARCHIVE.name
    target = unit.rootfs / inside.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(container_images.ARCHIVE, target)
    result = units.exec_in(unit, "docker", "load", "--quiet", "--input", inside)
    target.unlink()
    if result.returncode:
        raise LabError(f"{unit.name}: docker load of the lab images failed: {result.stderr.strip()}")
    log(f"{unit.name}: loaded {', '.join(container_images.TAGS)}")
