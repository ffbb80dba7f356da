"""Files the power role writes: the units that re-apply jetson_clocks at every boot."""

from thorfleet.core.fleet import FleetHost, FleetView
from thorfleet.core.paths import CLOCKS_UNIT, ORIGINAL_CLOCKS, unit_file
from thorfleet.core.render import RenderedFile, render_template

JETSON_CLOCKS = "/usr/bin/jetson_clocks"


def unit_paths() -> list[str]:
    return [unit_file(CLOCKS_UNIT), unit_file(CLOCKS_UNIT, "timer")]


def rendered_files(unit: FleetHost, fleet: FleetView) -> list[RenderedFile]:
    config = unit.config
    if config.power.clocks != "locked":
        return []
    context = {
        "power": config.power,
        "jetson_clocks": JETSON_CLOCKS,
        "original_clocks": ORIGINAL_CLOCKS,
        "unit": CLOCKS_UNIT,
    }
    service, timer = unit_paths()
    return [
        RenderedFile(service, render_template("roles/power/jetson-clocks.service.j2", **context), role="power"),
        RenderedFile(timer, render_template("roles/power/jetson-clocks.timer.j2", **context), role="power"),
    ]
