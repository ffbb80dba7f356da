"""The files the monitoring role writes: Prometheus's configuration folder (scrape jobs, their
targets and keys, the alert rules) and its arguments."""

import json
from typing import Any

from thorfleet.core.fleet import FleetHost, FleetView
from thorfleet.core.paths import PROMETHEUS_DIR
from thorfleet.core.reach import host_port
from thorfleet.core.render import RenderedFile, render_template, shown_secret
from thorfleet.core.types import SecretReader, SecretSource
from thorfleet.core.web_auth import USER, web_config
from thorfleet.roles.monitoring.dashboards import dashboards
from thorfleet.roles.monitoring.targets import engine_metrics, scrape_jobs

PACKAGE = "prometheus"
SERVICE = "prometheus"
DEFAULTS = "/etc/default/prometheus"  # Debian's unit runs `prometheus $ARGS`
STORAGE = "/var/lib/prometheus/metrics2/"  # Debian's own place for the samples


def folder_files(unit: FleetHost, fleet: FleetView, read: SecretReader = SecretSource.read) -> dict[str, str]:
    """{path inside PROMETHEUS_DIR: content}: everything Prometheus reads, keys included; alert rules
    and Grafana dashboards (dashboards/*.json) for the engine kinds the fleet runs."""
    monitoring, jobs = unit.config.monitoring, scrape_jobs(fleet, unit.name)
    files = {
        "prometheus.yml": render_template("roles/monitoring/prometheus.yml.j2", monitoring=monitoring, jobs=jobs, user=USER,
                                          self_target=host_port("127.0.0.1" if monitoring.bind in ("0.0.0.0", "::") else monitoring.bind,
                                                                monitoring.port)),
        "rules.yml": render_template("roles/monitoring/rules.yml.j2", monitoring=monitoring, engine_metrics=engine_metrics(fleet)),
        **{f"dashboards/{name}": board for name, board in dashboards(engine_metrics(fleet)).items()},
    }
    for job in jobs:
        files[f"targets/{job.name}.json"] = json.dumps(job.targets, indent=2, sort_keys=True) + "\n"
        if job.secret:
            files[f"keys/{job.name}"] = read(job.secret) + "\n"
    if monitoring.password:
        files["keys/prometheus"] = read(monitoring.password) + "\n"
        files["web.yml"] = web_config(read(monitoring.password)) if read is not shown_secret else \
            f"# basic_auth_users: prometheus: <bcrypt hash of the {shown_secret(monitoring.password)}>\n"
    return files


def prometheus_args(config: Any) -> str:
    monitoring = config.monitoring
    args = [f"--config.file={PROMETHEUS_DIR}/prometheus.yml", f"--storage.tsdb.path={STORAGE}",
            f"--storage.tsdb.retention.time={monitoring.retention}", f"--web.listen-address={host_port(monitoring.bind, monitoring.port)}"]
    if monitoring.password:
        args.append(f"--web.config.file={PROMETHEUS_DIR}/web.yml")
    return " ".join(args)


def defaults_file(config: Any) -> RenderedFile:
    return RenderedFile(DEFAULTS, render_template("roles/monitoring/prometheus.default.j2", args=prometheus_args(config)), role="monitoring")


def rendered_files(unit: FleetHost, fleet: FleetView) -> list[RenderedFile]:
    return [defaults_file(unit.config)] + [RenderedFile(f"{PROMETHEUS_DIR}/{path}", content, mode="640", role="monitoring")
                                           for path, content in folder_files(unit, fleet, shown_secret).items()]
