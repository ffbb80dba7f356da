"""Files the unit_metrics role writes: node exporter's arguments and web config, the Jetson collector
and the timer that runs it."""

from pathlib import Path
from typing import Any

from thorfleet.core.fleet import FleetHost, FleetView
from thorfleet.core.paths import JETSON_COLLECTOR_DIR, JETSON_METRICS_UNIT, TEXTFILE_DIR, unit_file
from thorfleet.core.reach import host_port
from thorfleet.core.render import RenderedFile, render_template, shown_secret
from thorfleet.core.types import SecretReader, SecretSource
from thorfleet.core.web_auth import web_config

PACKAGE = "prometheus-node-exporter"
DEFAULTS = "/etc/default/prometheus-node-exporter"  # Debian's unit runs `prometheus-node-exporter $ARGS`
WEB_CONFIG = "/etc/prometheus/node-exporter-web.yml"
SERVICE = "prometheus-node-exporter"
COLLECTOR = f"{JETSON_COLLECTOR_DIR}/jetson_textfile.py"
_SOURCES = {"jetson_textfile.py": Path(__file__).parent / "jetson_textfile.py",
            "readings.py": Path(__file__).parent.parent / "power" / "readings.py"}


def exporter_args(config: Any) -> str:
    metrics = config.unit_metrics
    args = [f"--web.listen-address={host_port(metrics.bind, metrics.port)}", f"--collector.textfile.directory={TEXTFILE_DIR}"]
    if metrics.password:
        args.append(f"--web.config.file={WEB_CONFIG}")
    return " ".join(args)


def web_config_file(config: Any, read: SecretReader = SecretSource.read) -> str | None:
    password = config.unit_metrics.password
    if password is None:
        return None
    return web_config(read(password)) if read is not shown_secret else f"# basic_auth_users: prometheus: <bcrypt hash of the {shown_secret(password)}>\n"


def plain_files(config: Any) -> list[RenderedFile]:
    """Every file but the web config (which the deploy writes as a secret file)."""
    context = {"collector": COLLECTOR, "textfile_dir": TEXTFILE_DIR, "interval_s": config.unit_metrics.interval_s,
               "unit": JETSON_METRICS_UNIT}
    return [
        RenderedFile(DEFAULTS, render_template("roles/unit_metrics/node-exporter.default.j2", args=exporter_args(config)),
                     role="unit_metrics"),
        *(RenderedFile(f"{JETSON_COLLECTOR_DIR}/{name}", source.read_text(), mode="755" if name == "jetson_textfile.py" else "644",
                       role="unit_metrics") for name, source in _SOURCES.items()),
        RenderedFile(unit_file(JETSON_METRICS_UNIT), render_template("roles/unit_metrics/jetson-metrics.service.j2", **context),
                     role="unit_metrics"),
        RenderedFile(unit_file(JETSON_METRICS_UNIT, "timer"), render_template("roles/unit_metrics/jetson-metrics.timer.j2", **context),
                     role="unit_metrics"),
    ]


def rendered_files(unit: FleetHost, fleet: FleetView) -> list[RenderedFile]:
    config = unit.config
    web = web_config_file(config, shown_secret)
    return plain_files(config) + ([RenderedFile(WEB_CONFIG, web, mode="640", role="unit_metrics")] if web else [])
