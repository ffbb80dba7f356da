"""Facts of the power role: the nvpmodel mode, the modes a unit offers, and the clock state."""

import re

from pyinfra.api import FactBase

from thorfleet.roles.power.readings import clock_state, nvpmodel_mode

NVPMODEL_CONF = "/etc/nvpmodel.conf"
_POWER_MODEL = re.compile(r"<\s*POWER_MODEL\s+ID=(\d+)\s+NAME=(\S+?)\s*>")
_DEFAULT = re.compile(r"<\s*PM_CONFIG\s+DEFAULT=(\d+)\s*>")


class NvpmodelMode(FactBase):
    """The current mode from `nvpmodel -q`: `{"id": 0, "name": "MAXN"}`, or None without nvpmodel."""

    requires_command = "nvpmodel"
    command = "nvpmodel -q"

    def process(self, output):
        return nvpmodel_mode(output)


class NvpmodelModes(FactBase):
    """The modes of /etc/nvpmodel.conf: `{"modes": {0: "MAXN", 1: "120W"}, "default": 1}`."""

    command = f"cat {NVPMODEL_CONF}"
    requires_command = "nvpmodel"

    def process(self, output):
        text = "\n".join(output)
        default = _DEFAULT.search(text)
        return {
            "modes": {int(i): name for i, name in _POWER_MODEL.findall(text)},
            "default": int(default.group(1)) if default else None,
        }


class JetsonClocks(FactBase):
    """`jetson_clocks --show`: `{"locked": bool, "unlocked": [clock names]}`, None without jetson_clocks."""

    requires_command = "jetson_clocks"
    command = "jetson_clocks --show"

    def process(self, output):
        return clock_state(output)


class BootId(FactBase):
    """The kernel's id of this boot: it changes at every reboot (uptime does not, in a container)."""

    command = "cat /proc/sys/kernel/random/boot_id"

    def process(self, output):
        return output[0].strip() if output else None
