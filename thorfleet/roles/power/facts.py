"""Facts of the power role: the nvpmodel mode, the modes a unit offers, and the clock state."""

import re
from typing import Any

from pyinfra.api.facts import FactBase

from thorfleet.roles.power.readings import clock_state, nvpmodel_mode

NVPMODEL_CONF = "/etc/nvpmodel.conf"
_POWER_MODEL = re.compile(r"<\s*POWER_MODEL\s+ID=(\d+)\s+NAME=(\S+?)\s*>")
_DEFAULT = re.compile(r"<\s*PM_CONFIG\s+DEFAULT=(\d+)\s*>")


class NvpmodelMode(FactBase[dict[str, Any] | None]):
    """The current mode from `nvpmodel -q`: `{"id": 0, "name": "MAXN"}`, or None without nvpmodel."""

    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return "nvpmodel"

    def command(self) -> str:
        return "nvpmodel -q"

    def process(self, output: list[str]) -> dict[str, Any] | None:
        return nvpmodel_mode(output)


class NvpmodelModes(FactBase[dict[str, Any]]):
    """The modes of /etc/nvpmodel.conf: `{"modes": {0: "MAXN", 1: "120W"}, "default": 1}`."""

    def command(self) -> str:
        return f"cat {NVPMODEL_CONF}"

    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return "nvpmodel"

    def process(self, output: list[str]) -> dict[str, Any]:
        text = "\n".join(output)
        default = _DEFAULT.search(text)
        return {
            "modes": {int(i): name for i, name in _POWER_MODEL.findall(text)},
            "default": int(default.group(1)) if default else None,
        }


class JetsonClocks(FactBase[dict[str, Any] | None]):
    """`jetson_clocks --show`: `{"locked": bool, "unlocked": [clock names]}`, None without jetson_clocks."""

    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return "jetson_clocks"

    def command(self) -> str:
        return "jetson_clocks --show"

    def process(self, output: list[str]) -> dict[str, Any] | None:
        return clock_state(output)


class BootId(FactBase[str | None]):
    """The kernel's id of this boot: it changes at every reboot (uptime does not, in a container)."""

    def command(self) -> str:
        return "cat /proc/sys/kernel/random/boot_id"

    def process(self, output: list[str]) -> str | None:
        return output[0].strip() if output else None
