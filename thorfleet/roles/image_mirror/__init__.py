"""The image_mirror role: a pull-through mirror of a registry's public images on one host of the LAN,
which every unit's Docker asks first (docs/roles/image_mirror.md)."""

from pydantic import Field

from thorfleet.core.fleet import IMAGE_MIRRORS
from thorfleet.core.role import Role
from thorfleet.roles.image_mirror.config import ImageMirrorConfig, listeners, mirror_urls
from thorfleet.roles.image_mirror.deploy import apply
from thorfleet.roles.image_mirror.files import PACKAGE, rendered_files

ROLE = Role(
    name="image_mirror",
    config={"image_mirror": (ImageMirrorConfig, Field(default_factory=ImageMirrorConfig,
                                                      description="The fleet's pull-through image mirror."))},
    apply=apply,
    files=rendered_files,
    checks="thorfleet.roles.image_mirror.verify",
    packages=(PACKAGE,),
    listeners=listeners,
    group="image_mirror",
    barrier=True,  # mirrors up before any unit's Docker pulls through them  # opt-in: only the hosts of the inventory's `image_mirror` group
    fleet={IMAGE_MIRRORS: mirror_urls},
)
