"""Config of the base role: packages, SSH access, jetson-stats, Wi-Fi."""

import re
from typing import Annotated

from pydantic import AfterValidator, Field

from thorfleet.core.types import SecretSource, SingleLine, StrictModel, Url, matching

APT_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
SSH_KEY_RE = re.compile(r"^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) [A-Za-z0-9+/=]+( .*)?$")


def _ssh_key(value: str) -> str:
    if not SSH_KEY_RE.match(value.strip()):
        raise ValueError("not an OpenSSH public key line ('ssh-ed25519 AAAA... comment')")
    return value.strip()


AptPackage = Annotated[str, matching(APT_NAME_RE, "{value!r} is not a Debian package name")]
SshPublicKey = Annotated[str, AfterValidator(_ssh_key)]


class WifiConfig(StrictModel):
    """A Wi-Fi network joined with nmcli (seed 002); the password never appears inline."""

    ssid: SingleLine = Field(description="Network name (SSID).")
    password: SecretSource = Field(description="Where the Wi-Fi password comes from on the controller: `env` or `file`.")
    interface: SingleLine | None = Field(None, description="Wireless interface; nmcli picks one when unset.")
    hidden: bool = Field(False, description="The network does not broadcast its SSID.")


class BaseConfig(StrictModel):
    """Base system of a unit."""

    apt_packages: list[AptPackage] = Field(
        default_factory=lambda: [
            "build-essential", "git", "cmake", "ccache", "curl", "python3-venv", "python3-pip",
        ],
        description="Debian/Ubuntu packages to install (build tools for the engine builds included).",
    )
    jetpack: list[AptPackage] = Field(
        default_factory=lambda: ["nvidia-jetpack"],
        description="JetPack components installed from NVIDIA's Jetson apt source (seed 002: `sudo apt install nvidia-jetpack` "
        "after the first boot of a BSP-flashed unit). `[nvidia-cuda-dev]` installs only the CUDA toolkit the builds need; "
        "`[]` none (docs/roles/base.md).",
    )
    authorized_keys: list[SshPublicKey] = Field(
        default_factory=list, description="SSH public keys added to the login user's `~/.ssh/authorized_keys`."
    )
    jetson_stats: bool = Field(True, description="Install jetson-stats (`jtop`) with pip, as its docs say for JetPack 7.")
    jetson_stats_version: SingleLine = Field("7.2.2", description="Pinned jetson-stats version from PyPI.")
    pip_index_url: Url | None = Field(
        None, description="Package index for what the deploy installs with pip (jetson-stats, modelscope); PyPI when unset."
    )
    wifi: WifiConfig | None = Field(None, description="Optional Wi-Fi network to join.")
