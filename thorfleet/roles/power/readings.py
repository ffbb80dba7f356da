"""What `nvpmodel -q` and `jetson_clocks --show` print, read: the power role's facts use these, and so
does the unit's Jetson metrics collector (roles/unit_metrics/jetson_textfile.py), which runs on the
unit with nothing but Python's standard library; so this module imports nothing else."""

import re
from collections.abc import Iterable
from typing import Any

# `NV Power Mode: MAXN` (JetPack 6) and `NV Power Mode[1]: 120W` (a JetPack 7.1 Thor, jetson_stats#820).
_MODE_LINE = re.compile(r"^NV Power Mode(?:\[(\d+)\])?:\s*(\S+)")
_SETTING = re.compile(r"(\w+)=(\S+)")


def nvpmodel_mode(lines: Iterable[str]) -> dict[str, Any] | None:
    """`{"id": 0, "name": "MAXN"}` from `nvpmodel -q`, None when it printed no mode."""
    name = mode_id = None
    for line in lines:
        match = _MODE_LINE.match(line.strip())
        if match:
            mode_id = int(match.group(1)) if match.group(1) else mode_id
            name = match.group(2)
        elif line.strip().isdigit() and name is not None:
            mode_id = int(line.strip())  # the id line below the name line
    if name is None or mode_id is None:
        return None
    return {"id": mode_id, "name": name}


def clock_state(lines: Iterable[str]) -> dict[str, Any] | None:
    """`{"locked": bool, "unlocked": [clock names]}` from `jetson_clocks --show`, None without clock lines.

    Lines look like `cpu0: Online=1 Governor=schedutil MinFreq=729600 MaxFreq=2201600 ...` and
    `EMC MinFreq=204000000 MaxFreq=3199000000 CurrentFreq=3199000000 FreqOverride=1`. jetson_clocks
    raises each minimum to the maximum, and pins the memory clock with FreqOverride=1 instead.
    """
    unlocked, seen = [], 0
    for line in lines:
        settings = dict(_SETTING.findall(line))
        if "MinFreq" not in settings or "MaxFreq" not in settings:
            continue
        seen += 1
        if settings["MinFreq"] != settings["MaxFreq"] and settings.get("FreqOverride") != "1":
            unlocked.append(line.split()[0].rstrip(":"))
    if not seen:
        return None
    return {"locked": not unlocked, "unlocked": unlocked}
