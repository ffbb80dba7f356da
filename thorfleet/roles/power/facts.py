"""Facts of the power role: the nvpmodel mode, the modes a unit offers, and the clock state."""

import re

from pyinfra.api import FactBase

NVPMODEL_CONF = "/etc/nvpmodel.conf"
# `NV Power Mode: MAXN` (JetPack 6) and `NV Power Mode[1]: 120W` (a JetPack 7.1 Thor, jetson_stats#820).
_MODE_LINE = re.compile(r"^NV Power Mode(?:\[(\d+)\])?:\s*(\S+)")
_POWER_MODEL = re.compile(r"<\s*POWER_MODEL\s+ID=(\d+)\s+NAME=(\S+?)\s*>")
_DEFAULT = re.compile(r"<\s*PM_CONFIG\s+DEFAULT=(\d+)\s*>")
_SETTING = re.compile(r"(\w+)=(\S+)")


class NvpmodelMode(FactBase):
    """The current mode from `nvpmodel -q`: `{"id": 0, "name": "MAXN"}`, or None without nvpmodel."""

    requires_command = "nvpmodel"
    command = "nvpmodel -q"

    def process(self, output):
        name = mode_id = None
        for line in output:
            match = _MODE_LINE.match(line.strip())
            if match:
                mode_id = int(match.group(1)) if match.group(1) else mode_id
                name = match.group(2)
            elif line.strip().isdigit() and name is not None:
                mode_id = int(line.strip())  # the id line below the name line
        if name is None or mode_id is None:
            return None
        return {"id": mode_id, "name": name}


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
    """`jetson_clocks --show`: `{"locked": bool, "unlocked": [clock names]}`, None without jetson_clocks.

    Lines look like `cpu0: Online=1 Governor=schedutil MinFreq=729600 MaxFreq=2201600 ...` and
    `EMC MinFreq=204000000 MaxFreq=3199000000 CurrentFreq=3199000000 FreqOverride=1`. jetson_clocks
    raises each minimum to the maximum, and pins the memory clock with FreqOverride=1 instead.
    """

    requires_command = "jetson_clocks"
    command = "jetson_clocks --show"

    def process(self, output):
        unlocked, seen = [], 0
        for line in output:
            settings = dict(_SETTING.findall(line))
            if "MinFreq" not in settings or "MaxFreq" not in settings:
                continue
            seen += 1
            if settings["MinFreq"] != settings["MaxFreq"] and settings.get("FreqOverride") != "1":
                unlocked.append(line.split()[0].rstrip(":"))
        if not seen:
            return None
        return {"locked": not unlocked, "unlocked": unlocked}


class BootId(FactBase):
    """The kernel's id of this boot: it changes at every reboot (uptime does not, in a container)."""

    command = "cat /proc/sys/kernel/random/boot_id"

    def process(self, output):
        return output[0].strip() if output else None
