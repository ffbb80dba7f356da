"""The gateway at run time, from the controller over SSH: its servers' state from HAProxy's runtime
API, draining and enabling a unit, and requests through it (made from the controller through a
tunnel, so that no key is ever on a command line)."""

import csv
import json
import shlex
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import paramiko

from thorfleet.core.fleet import TRANSCRIPTION, FleetHost, FleetView, RestartDrain
from thorfleet.core.http import bearer, send
from thorfleet.core.http import get as http_get
from thorfleet.core.ssh import forward, ssh_client
from thorfleet.core.wait import wait_until
from thorfleet.roles.gateway.files import SOCKET
from thorfleet.roles.gateway.routes import ROUTES, Route

STAND_IN = ".stand-in"  # the name of a rollout's stand-in server ends so: unit.engine.stand-in


class GatewayError(Exception):
    """The gateway did not answer as expected (the message says what it said)."""


class GatewayNotRunning(GatewayError):
    """HAProxy's runtime API is not there (yet): nothing is routed through this gateway."""


class Gateway:
    """One gateway host (a FleetHost of the `gateway` group), connected while in a `with` block."""

    def __init__(self, fleet_host: FleetHost) -> None:
        self.fleet_host = fleet_host
        self.config = fleet_host.config.gateway
        self._client: paramiko.SSHClient | None = None

    @property
    def client(self) -> paramiko.SSHClient:
        if self._client is None:
            raise GatewayError(f"{self.fleet_host.name}: use the gateway in a `with` block")
        return self._client

    def __enter__(self) -> "Gateway":
        self._client = ssh_client(self.fleet_host)
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def _api(self, command: str) -> str:
        line = f"[ -S {SOCKET} ] || exit 3; echo {shlex.quote(command)} | socat stdio unix-connect:{SOCKET}"
        _, stdout, stderr = self.client.exec_command(f"sudo -n sh -c {shlex.quote(line)}", timeout=30)
        out = str(stdout.read().decode(errors="replace"))
        status = stdout.channel.recv_exit_status()
        if status == 3:
            raise GatewayNotRunning(f"{self.fleet_host.name}: HAProxy's runtime API ({SOCKET}) is not there")
        if status != 0:
            raise GatewayError(f"{self.fleet_host.name}: HAProxy's runtime API did not answer {command!r}: "
                               f"{stderr.read().decode(errors='replace').strip()}")
        return out

    def servers(self) -> list[dict[str, Any]]:
        """Every engine server of every backend: backend, server (unit.engine), unit, status (UP,
        DOWN, DRAIN, MAINT…), open requests, requests served so far, whether it is a rollout's
        stand-in, and its last health check (L7OK…)."""
        rows = []
        for row in csv.DictReader(self._api("show stat").lstrip("# ").splitlines()):
            if row["svname"] in ("FRONTEND", "BACKEND"):
                continue
            rows.append({"backend": row["pxname"], "server": row["svname"], "unit": row["svname"].split(".", 1)[0],
                         "status": row["status"], "open": int(row["scur"] or 0), "served": int(row["stot"] or 0),
                         "stand_in": row["svname"].endswith(STAND_IN), "check": row.get("check_status", "").strip("* ")})
        return rows

    def set_state(self, rows: list[dict[str, Any]], state: str) -> list[str]:
        """These servers (rows of `servers()`) to `state` (ready, drain or maint); their names."""
        for row in rows:
            self._api_quiet(f"set server {row['backend']}/{row['server']} state {state}")
        return [row["server"] for row in rows]

    def set_unit_state(self, unit: str, state: str) -> list[str]:
        """Every server of `unit` to `state` (its stand-ins during a rollout left as they are); the servers it changed."""
        return self.set_state([row for row in self.servers() if row["unit"] == unit and not row["stand_in"]], state)

    def add_stand_in(self, backend: str, server: str, address: str, port: int, timeout: float) -> float:
        """A server added to `backend` at run time (HAProxy's `add server`: gone at the next reload), health
        checked as the configured ones are, and enabled; the seconds until it was UP. One left by an
        interrupted rollout is drained and replaced."""
        self.remove_stand_in(backend, server)
        self._api_quiet(f"add server {backend}/{server} {address}:{port} check inter {self.config.check_interval_s}s fall 2 rise 1",
                        "New server registered")
        self._api_quiet(f"enable health {backend}/{server}")
        self._api_quiet(f"enable server {backend}/{server}")
        up = wait_until(lambda: any(r["server"] == server and r["backend"] == backend and r["status"] == "UP"
                                    and r["check"] == "L7OK" for r in self.servers()), timeout)  # its first check passed
        if up is None:
            raise GatewayError(f"{backend}/{server} was added but not UP within {timeout:.0f} s")
        return up

    def remove_stand_in(self, backend: str, server: str) -> float:
        """The server drained (its open requests waited for) and deleted; the seconds the drain took."""
        if not any(r["server"] == server and r["backend"] == backend for r in self.servers()):
            return 0.0
        self._api_quiet(f"set server {backend}/{server} state drain")
        waited = self.wait_idle({server}, self.config.drain_timeout_s)
        self._api_quiet(f"set server {backend}/{server} state maint")
        self._api_quiet(f"del server {backend}/{server}", "Server deleted")
        return waited

    def _api_quiet(self, command: str, expected: str = "") -> None:
        """A runtime API command that answers nothing (or `expected`) when it worked."""
        answer = self._api(command).strip()
        if answer and not (expected and answer.startswith(expected)):
            raise GatewayError(f"{self.fleet_host.name}: {command}: {answer}")

    def wait_idle(self, servers: set[str], timeout: float) -> float:
        """Wait until no request is open on these servers; the seconds it took."""
        busy = 0

        def idle() -> bool:
            nonlocal busy
            busy = sum(r["open"] for r in self.servers() if r["server"] in servers)
            return busy == 0

        waited = wait_until(idle, timeout)
        if waited is None:
            raise GatewayError(f"{', '.join(sorted(servers))} still had {busy} open request(s) after {timeout:.0f} s of draining")
        return waited

    @contextmanager
    def endpoint(self) -> Iterator[str]:
        """The gateway's base URL as the controller reaches it (through SSH, whatever it binds)."""
        address = "127.0.0.1" if self.config.bind in ("0.0.0.0", "127.0.0.1") else self.config.bind
        with forward(self.client, address, self.config.port) as port:
            yield f"http://127.0.0.1:{port}"


def headers(key: str | None, server: str | None = None) -> dict[str, Any]:
    found = bearer(key)
    if server:
        found["X-Thorfleet-Server"] = server  # pins the request to that engine (unit.engine), drained or not
    return found


def smoke(base: str, route: Route, key: str | None, server: str | None = None, timeout: float = 120) -> tuple[int, str]:
    """One small request of the route's kind through the gateway: (HTTP status, body or reason)."""
    if route.serves == TRANSCRIPTION:
        return get(f"{base}/v1/models", key, timeout)  # a transcription needs audio: the route's health is checked instead
    body = json.dumps({"model": route.model, "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 4}).encode()
    request = urllib.request.Request(f"{base}/v1/chat/completions", body, {**headers(key, server), "Content-Type": "application/json"})
    return send(request, timeout)


def get(url: str, key: str | None, timeout: float = 30) -> tuple[int, str]:
    return http_get(url, headers(key), timeout)


class DrainForRestart:
    """The deploy's restart of one engine behind gateways (engines role): drained at each gateway and
    its open requests waited for before the restart, put back once it answers its health check. A
    server a rollout has drained or left out already is left as it is, and not put back here."""

    def __init__(self, targets: list[tuple[FleetHost, str]]) -> None:
        self.targets = targets  # (gateway host, server name)
        self.drained: list[tuple[FleetHost, list[dict[str, Any]]]] = []

    def drain(self, state: Any, host: Any) -> bool:
        for gateway_host, server in self.targets:
            try:
                with Gateway(gateway_host) as gateway:
                    rows = [r for r in gateway.servers() if r["server"] == server and r["status"].startswith(("UP", "DOWN", "NOLB"))]
                    gateway.set_state(rows, "drain")
                    if rows:
                        self.drained.append((gateway_host, rows))
                        waited = gateway.wait_idle({server}, gateway.config.drain_timeout_s)
                        host.log(f"{server} drained at {gateway_host.name} in {waited:.1f} s")
            except GatewayNotRunning:  # a first deploy: the gateway comes later, and sends nothing yet
                host.log(f"{server}: the gateway {gateway_host.name} is not running yet, nothing to drain")
            except Exception as err:  # paramiko's many kinds, GatewayError: the restart must not go on
                host.log_styled(f"thorfleet: cannot drain {server} at the gateway {gateway_host.name}, so it was not "
                                f"restarted: {err}", fg="red")
                return False
        return True

    def ready(self, state: Any, host: Any) -> bool:
        for gateway_host, rows in self.drained:
            try:
                with Gateway(gateway_host) as gateway:
                    gateway.set_state(rows, "ready")
            except Exception as err:  # as above: the engine runs; the gateway must be told by hand
                host.log_styled(f"thorfleet: {', '.join(r['server'] for r in rows)} restarted but not put back at "
                                f"{gateway_host.name}: {err}; `thorfleet rollout` or HAProxy's `set server … state ready`", fg="red")
                return False
        return True


class Fronts:
    """The gateways in front of the fleet's engines (core/fleet.py, ENGINE_FRONTS)."""

    def __init__(self, fleet: FleetView) -> None:
        self.fleet = fleet

    def restart_drain(self, unit: str, engine: str) -> RestartDrain | None:
        targets = [(self.fleet.hosts[gateway], backend.server) for gateway, (routes, _) in self.fleet.fact(ROUTES).items()
                   for route in routes for backend in route.reachable if (backend.unit, backend.engine) == (unit, engine)]
        return DrainForRestart(targets) if targets else None
