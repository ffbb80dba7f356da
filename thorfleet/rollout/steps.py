"""What a rollout does to one unit, step by step, behind one interface (`Steps`): the rollout's logic
(rollout/run.py) drives it, `LiveSteps` does it on the fleet (SSH, the gateways' runtime API, pyinfra,
`thorfleet verify`), and the unit tests drive the same logic with fakes in seconds."""

import shlex
import subprocess
import tempfile
import time
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path
from typing import Any, Protocol

import paramiko

from thorfleet.bench.run import engine_context
from thorfleet.core.ssh import Unreachable, ssh_client
from thorfleet.core.pyinfra_cli import pyinfra_command
from thorfleet.fleet import ConfigError, Fleet, load_fleet
from thorfleet.plan import plan
from thorfleet.rollout.outages import StandIn
from thorfleet.rollout.perf_gate import measure
from thorfleet.roles.engines.stand_in import (StandInFailed, installed_unit_command, stand_in_unit_file, start_command,
                                               stop_command)
from thorfleet.revisions.unit import RevisionUnavailable, fetch_revision, unit_revisions
from thorfleet.roles.gateway.runtime import STAND_IN, Gateway, GatewayError
from thorfleet.verify import run_suite

DEPLOY_TIMEOUT = 3600


def stand_in_server(stand_in: StandIn) -> str:
    return f"{stand_in.unit}.{stand_in.engine}{STAND_IN}"


class Steps(Protocol):
    def session(self) -> AbstractContextManager[None]:
        """Held for the whole rollout (the gateways' connections); GatewayError when one cannot be reached."""

    def changing(self, hosts: list[str]) -> set[str]:
        """The units a deploy would change (`thorfleet plan`), and those it could not tell about."""

    def engines(self, host: str) -> dict[str, Any]:
        """Each engine's command line and model file on the unit; Unreachable when it cannot be reached."""

    def revisions(self, host: str) -> list[dict[str, Any]]:
        """The revisions recorded on the unit, oldest first; Unreachable or RevisionUnavailable."""

    def revert(self, host: str, revision: dict[str, Any]) -> tuple[bool, str]:
        """The unit deployed again with that revision's configuration and gated by it: (passed, what happened)."""

    def measure(self, host: str, budget_s: float, like: dict[str, list[dict[str, Any]]] | None = None) -> dict[str, list[dict[str, Any]]]:
        """Each chat engine of the unit, a short bench run repeated within about `budget_s`, or shaped
        `like` an earlier measurement (perf_gate.py); Unreachable."""

    def start_stand_ins(self, host: str, stand_ins: list[StandIn]) -> list[str]:
        """Each stand-in started on the unit and added to its gateways' backends; what happened, a line each.
        StandInFailed (or GatewayError, Unreachable) when one does not start."""

    def stop_stand_ins(self, host: str, stand_ins: list[StandIn]) -> list[str]:
        """Each stand-in drained and removed at its gateways, then stopped; what happened, a line each."""

    def drain(self, host: str) -> list[str]:
        """The unit out of every gateway, its open requests waited for; what happened, a line each. GatewayError."""

    def deploy(self, host: str) -> tuple[bool, str]:
        """The deploy of this unit alone: (ok, why not)."""

    def gate(self, host: str) -> tuple[bool, str]:
        """The unit's checks after its deploy: (passed, what they said)."""

    def enable(self, host: str, ok: bool) -> None:
        """Back into every gateway when it passed; kept out (maintenance) when it failed. GatewayError."""


class LiveSteps:
    """The steps on a real fleet."""

    def __init__(self, fleet: Fleet, log_dir: Path):
        self.fleet, self.log_dir = fleet, log_dir
        self.gateways: list[Gateway] = []

    def session(self) -> AbstractContextManager[None]:
        stack = ExitStack()
        for host in self.fleet.with_role("gateway"):
            try:
                self.gateways.append(stack.enter_context(Gateway(host)))
            except Unreachable as err:
                stack.close()
                raise GatewayError(f"the gateway {err}") from None
            except (OSError, paramiko.SSHException) as err:
                stack.close()
                raise GatewayError(f"the gateway {host.name} cannot be reached: {type(err).__name__}: {err}") from None
        return stack

    def changing(self, hosts: list[str]) -> set[str]:
        return {host for host, planned in plan(self.fleet, hosts).items() if planned.changed or planned.error}

    def engines(self, host: str) -> dict[str, Any]:
        fleet_host = self.fleet.hosts[host]
        client = ssh_client(fleet_host)
        try:
            found = {}
            for name, engine in fleet_host.config.engines.items():
                context = engine_context(client, fleet_host, name, engine)
                found[name] = {"command_line": context["command_line"], "model_file": context.get("model_file", "")}
            return found
        except (OSError, paramiko.SSHException) as err:
            raise Unreachable(f"{host}: the SSH connection dropped: {type(err).__name__}: {err}") from None
        finally:
            client.close()

    def start_stand_ins(self, host: str, stand_ins: list[StandIn]) -> list[str]:
        said, fleet_host = [], self.fleet.hosts[host]
        for stand_in in stand_ins:
            engine = fleet_host.config.engines[stand_in.engine]
            started = time.monotonic()
            status, installed = self._on_unit(host, installed_unit_command(stand_in.engine), 60)
            if status != 0:
                raise StandInFailed(f"the stand-in of {stand_in.engine} cannot be made, so the unit was not drained: "
                                    f"its unit file could not be read: {installed.strip()[-300:]}")
            unit = stand_in_unit_file(stand_in.engine, installed, engine.port, stand_in.port)
            status, output = self._on_unit(host, start_command(stand_in.engine, engine, stand_in.port),
                                           engine.health_timeout + 60, unit.encode())
            if status != 0:
                reason = next((line for line in output.splitlines() if line.startswith("thorfleet:")), output.strip()[-600:])
                raise StandInFailed(f"the stand-in of {stand_in.engine} did not start, so the unit was not drained: {reason}")
            said.append(f"stand-in of {stand_in.engine} answering on port {stand_in.port} after {time.monotonic() - started:.1f} s")
            for gateway, backend, address in stand_in.servers:
                up = self._gateway(gateway).add_stand_in(backend, stand_in_server(stand_in), address, stand_in.port,
                                                         engine.health_timeout)
                said.append(f"stand-in of {stand_in.engine} UP in {backend} at {gateway} after {up:.1f} s")
        return said

    def stop_stand_ins(self, host: str, stand_ins: list[StandIn]) -> list[str]:
        said = []
        for stand_in in stand_ins:
            for gateway, backend, _ in stand_in.servers:
                waited = self._gateway(gateway).remove_stand_in(backend, stand_in_server(stand_in))
                said.append(f"stand-in of {stand_in.engine} drained in {waited:.1f} s and removed from {backend} at {gateway}")
            status, output = self._on_unit(host, stop_command(stand_in.engine), 120)
            said.append(f"stand-in of {stand_in.engine} stopped" if status == 0 else
                        f"warning: the stand-in of {stand_in.engine} did not stop: {output.strip()[-300:]}")
        return said

    def _gateway(self, name: str) -> Gateway:
        found = next((g for g in self.gateways if g.fleet_host.name == name), None)
        if found is None:
            raise GatewayError(f"the gateway {name} is not connected")
        return found

    def _on_unit(self, host: str, command: str, timeout: float, stdin: bytes = b"") -> tuple[int, str]:
        """A root command on the unit, given `stdin`: (exit status, its output and errors)."""
        client = ssh_client(self.fleet.hosts[host])
        try:
            given, stdout, stderr = client.exec_command(f"sudo -n sh -c {shlex.quote(command)}", timeout=timeout)
            given.write(stdin)
            given.channel.shutdown_write()
            out = stdout.read().decode(errors="replace") + stderr.read().decode(errors="replace")
            return stdout.channel.recv_exit_status(), out
        except (OSError, paramiko.SSHException) as err:
            raise Unreachable(f"{host}: the SSH connection dropped: {type(err).__name__}: {err}") from None
        finally:
            client.close()

    def drain(self, host: str) -> list[str]:
        said = []
        for gateway in self.gateways:
            if drained := gateway.set_unit_state(host, "drain"):
                waited = gateway.wait_idle(set(drained), gateway.config.drain_timeout_s)
                said.append(f"drained at {gateway.fleet_host.name} in {waited:.1f} s")
        return said

    def revisions(self, host: str) -> list[dict[str, Any]]:
        return unit_revisions(self.fleet.hosts[host])

    def measure(self, host: str, budget_s: float, like: dict[str, list[dict[str, Any]]] | None = None) -> dict[str, list[dict[str, Any]]]:
        return measure(self.fleet.hosts[host], budget_s, like)

    def deploy(self, host: str) -> tuple[bool, str]:
        """The deploy as `pyinfra -y INVENTORY deploy.py --limit HOST`, its output in log_dir/HOST.log."""
        return self._deploy(self.fleet.inventory, host, self.log_dir / f"{host}.log")

    def gate(self, host: str) -> tuple[bool, str]:
        """The unit's verify checks: among them, each of its engines up at every gateway and answering
        a request pinned to it through the gateway (roles/gateway/verify.py), drained as it still is."""
        return self._gate(self.fleet, host)

    def revert(self, host: str, revision: dict[str, Any]) -> tuple[bool, str]:
        """The revision's configuration fetched from the unit into a scratch folder, deployed from there
        (this project's deploy.py, secrets read as now) and gated with that configuration's checks."""
        name = revision["name"]
        try:
            with tempfile.TemporaryDirectory(prefix="thorfleet-revision-") as scratch:
                inventory = fetch_revision(self.fleet.hosts[host], revision, Path(scratch))
                ok, why = self._deploy(inventory, host, self.log_dir / f"{host}-{name}.log")
                if not ok:
                    return False, f"revision {name}: {why}"
                ok, said = self._gate(load_fleet(inventory), host)
                return ok, f"revision {name}: {said}"
        except (Unreachable, RevisionUnavailable) as err:
            return False, f"revision {name}: {err}"
        except ConfigError as err:
            return False, f"revision {name}'s configuration no longer loads: {str(err).splitlines()[0][:300]}"

    def _deploy(self, inventory: Path, host: str, log: Path) -> tuple[bool, str]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with log.open("w") as out:
            status = subprocess.call(pyinfra_command(inventory, "-y", "--limit", host),
                                     stdout=out, stderr=subprocess.STDOUT, timeout=DEPLOY_TIMEOUT)
        if status == 0:
            return True, ""
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines()]
        # thorfleet's own reason first (an engine that did not answer, a refused flag), else pyinfra's
        reasons = [line for line in lines if "thorfleet:" in line and "warning:" not in line] or [l for l in lines if "Error" in l]
        return False, f"deploy failed: {(reasons or ['exit status ' + str(status)])[-1][:600]} (log: {log})"

    @staticmethod
    def _gate(fleet: Fleet, host: str) -> tuple[bool, str]:
        status, counts, failures = run_suite(fleet, host, [host], quiet=True)
        if status != 0:
            return False, f"verify: {', '.join(f.split('::', 1)[-1] for f in failures[:3]) or 'exit status ' + str(status)}"
        return True, f"verify: {counts.get(host, {}).get('passed', 0)} passed"

    def enable(self, host: str, ok: bool) -> None:
        for gateway in self.gateways:
            gateway.set_unit_state(host, "ready" if ok else "maint")
