#!/usr/bin/python3
"""What only a Jetson knows, for node exporter's textfile collector: the nvpmodel mode, whether
jetson_clocks holds the clocks, and the GPU's frequency, load and temperature.

Run on the unit by thorfleet-jetson-metrics.timer, with nothing but Python's standard library and
readings.py (the power role's parsers) beside it:

    jetson_textfile.py DIRECTORY    writes DIRECTORY/thorfleet_jetson.prom atomically

Sources, as jetson-stats reads them on Thor (jetson_stats#885): the GPU's devfreq node is
/sys/class/devfreq/gpu-gpc-0, which has no `load` file on Thor, so the load comes from nvidia-smi
(NVML). Temperatures of the thermal zones and power rails (hwmon) are node exporter's own
collectors. A source the unit lacks is reported with thorfleet_jetson_reading_ok 0, never guessed.
"""

import glob
import os
import subprocess
import sys
import time

from readings import clock_state, nvpmodel_mode  # type: ignore[import-not-found]  # installed beside this file

OUTPUT = "thorfleet_jetson.prom"
DEVFREQ = "/sys/class/devfreq/gpu-gpc-*"


def _run(*argv: str) -> list[str] | None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.splitlines() if done.returncode == 0 else None


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


class Metrics:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.described: set[str] = set()

    def add(self, name: str, kind: str, help_text: str, value: float, **labels: object) -> None:
        if name not in self.described:
            self.lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
            self.described.add(name)
        shown = ",".join(f'{k}="{_label(str(v))}"' for k, v in labels.items())
        self.lines.append(f"{name}{{{shown}}} {value}" if shown else f"{name} {value}")

    def reading(self, source: str, ok: bool) -> None:
        self.add("thorfleet_jetson_reading_ok", "gauge", "1 when the source could be read on this unit.", int(ok), source=source)


def collect() -> Metrics:
    metrics = Metrics()
    mode = nvpmodel_mode(_run("nvpmodel", "-q") or [])
    metrics.reading("nvpmodel", mode is not None)
    if mode:
        metrics.add("thorfleet_jetson_power_mode", "gauge", "The nvpmodel mode's id; its name as the label.", mode["id"], mode=mode["name"])
    clocks = clock_state(_run("jetson_clocks", "--show") or [])
    metrics.reading("jetson_clocks", clocks is not None)
    if clocks:
        metrics.add("thorfleet_jetson_clocks_locked", "gauge", "1 when jetson_clocks holds every clock at its maximum.", int(clocks["locked"]))
    nodes = sorted(glob.glob(DEVFREQ))
    metrics.reading("gpu_devfreq", bool(nodes))
    for node in nodes:
        for which in ("cur", "min", "max"):
            try:
                with open(os.path.join(node, f"{which}_freq")) as file:
                    hertz = int(file.read().strip())
            except (OSError, ValueError):
                continue
            metrics.add("thorfleet_jetson_gpu_frequency_hertz", "gauge", "The GPU's devfreq frequency: current, min and max.",
                        hertz, device=os.path.basename(node), which=which)
    gpu = _run("nvidia-smi", "--query-gpu=utilization.gpu,temperature.gpu", "--format=csv,noheader,nounits")
    values = [v.strip() for v in gpu[0].split(",")] if gpu else []
    readable = len(values) == 2 and values[0].replace(".", "", 1).isdigit()
    metrics.reading("nvidia_smi", readable)
    if readable:
        metrics.add("thorfleet_jetson_gpu_utilization_ratio", "gauge", "GPU load from NVML (nvidia-smi), 0 to 1.", float(values[0]) / 100)
        if values[1].replace(".", "", 1).isdigit():
            metrics.add("thorfleet_jetson_gpu_temperature_celsius", "gauge", "GPU temperature from NVML.", float(values[1]))
    metrics.add("thorfleet_jetson_collected_timestamp_seconds", "gauge", "When these readings were taken.", round(time.time(), 3))
    return metrics


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    directory = sys.argv[1]
    os.makedirs(directory, exist_ok=True)
    partial = os.path.join(directory, f".{OUTPUT}.{os.getpid()}")
    with open(partial, "w") as out:
        out.write("\n".join(collect().lines) + "\n")
    os.chmod(partial, 0o644)
    os.replace(partial, os.path.join(directory, OUTPUT))  # node exporter never reads half a file
    return 0


if __name__ == "__main__":
    sys.exit(main())
