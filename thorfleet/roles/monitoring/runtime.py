"""Prometheus on a monitoring host, asked from the controller through an SSH tunnel (so that it may
listen on loopback only): instant queries, the scrape targets and the alerts."""

import json
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from thorfleet.core.fleet import FleetHost
from thorfleet.core.http import basic, get
from thorfleet.core.ssh import forward, ssh_client
from thorfleet.core.web_auth import USER


class PrometheusError(Exception):
    """Prometheus did not answer, or answered an error (the message says which)."""


class Prometheus:
    """Prometheus's HTTP API at `base` (a tunnel's URL), with its password when it has one."""

    def __init__(self, base: str, password: str | None = None, name: str = "prometheus") -> None:
        self.base, self.headers, self.name = base, basic(USER, password), name

    def _api(self, path: str, **params: str) -> Any:
        url = f"{self.base}/api/v1/{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
        status, body = get(url, self.headers, timeout=30)
        if status != 200:
            raise PrometheusError(f"{self.name}: {path}: HTTP {status} {body[:200]}")
        answer = json.loads(body)
        if answer.get("status") != "success":
            raise PrometheusError(f"{self.name}: {path}: {answer.get('error')}")
        return answer["data"]

    def query(self, expr: str) -> list[tuple[dict[str, Any], float]]:
        """An instant vector: (labels, value) per series."""
        return [(row["metric"], float(row["value"][1])) for row in self._api("query", query=expr)["result"]]

    def targets(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._api("targets", state="active")["activeTargets"]
        return found

    def rules(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._api("rules")["groups"]
        return found

    def alerts(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._api("alerts")["alerts"]
        return found


@contextmanager
def connect(fleet_host: FleetHost) -> Iterator[Prometheus]:
    """A Prometheus client for this monitoring host (a FleetHost), through SSH."""
    monitoring = fleet_host.config.monitoring
    password = monitoring.password.read() if monitoring.password else None
    address = "127.0.0.1" if monitoring.bind in ("0.0.0.0", "::") else monitoring.bind
    client = ssh_client(fleet_host)
    try:
        with forward(client, address, monitoring.port) as port:
            yield Prometheus(f"http://127.0.0.1:{port}", password, f"Prometheus on {fleet_host.name}")
    finally:
        client.close()
