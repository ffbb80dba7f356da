"""Files the power role writes: the units that re-apply jetson_clocks at every boot."""

from thorfleet.render import RenderedFile, render_template

CLOCKS_UNIT = "thorfleet-jetson-clocks"
# The clocks as they were before thorfleet first locked them; `power.clocks: default` restores these.
ORIGINAL_CLOCKS = "/var/lib/thorfleet/jetson_clocks.orig"
JETSON_CLOCKS = "/usr/bin/jetson_clocks"


def unit_paths() -> list[str]:
    return [f"/etc/systemd/system/{CLOCKS_UNIT}.service", f"/etc/systemd/system/{CLOCKS_UNIT}.timer"]


def rendered_files(config) -> list[RenderedFile]:
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
