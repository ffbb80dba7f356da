"""One rollout: for each batch, reach its units, drain them at every gateway and wait for their open
requests, deploy them (pyinfra's own CLI, `--limit` the unit), gate them (`thorfleet verify` of the
unit, which includes a request through the gateway pinned to each of its engines), and put them back; stop
when a batch fails beyond `max_fail`, leaving the units not reached untouched and serving."""

import logging
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

from thorfleet.bench.run import engine_context
from thorfleet.core.ssh import ssh_client
from thorfleet.fleet import Fleet
from thorfleet.roles.gateway.runtime import Gateway, GatewayError
from thorfleet.rollout.batches import stops
from thorfleet.rollout.state import DONE, FAILED, SKIPPED, RolloutState, UnitOutcome, state_path
from thorfleet.verify import run_suite

DEPLOY_TIMEOUT = 3600


def _engines(client, fleet_host) -> dict:
    found = {}
    for name, engine in fleet_host.config.engines.items():
        context = engine_context(client, fleet_host, name, engine)
        found[name] = {"command_line": context["command_line"], "model_file": context.get("model_file", "")}
    return found


def _reach(fleet_host) -> tuple[object | None, str]:
    try:
        return ssh_client(fleet_host), ""
    except Exception as err:  # paramiko raises many kinds (timeouts, refused, auth): each is "unreachable"
        return None, f"unreachable: {type(err).__name__}: {err}"


DEPLOY_FILE = "deploy.py"  # the project's deploy, in the directory thorfleet runs from (as pyinfra's own CLI)


def deploy(fleet: Fleet, host: str, log_dir: Path) -> tuple[bool, str]:
    """The deploy as `pyinfra -y INVENTORY deploy.py --limit HOST`, its output in log_dir/HOST.log."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{host}.log"
    with log.open("w") as out:
        status = subprocess.call([sys.executable, "-m", "pyinfra", "-y", str(fleet.inventory), DEPLOY_FILE, "--limit", host],
                                 stdout=out, stderr=subprocess.STDOUT, timeout=DEPLOY_TIMEOUT)
    if status == 0:
        return True, ""
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines()]
    # thorfleet's own reason first (an engine that did not answer, a refused flag), else pyinfra's
    reasons = [line for line in lines if "thorfleet:" in line and "warning:" not in line] or [l for l in lines if "Error" in l]
    return False, f"deploy failed: {(reasons or ['exit status ' + str(status)])[-1][:300]} (log: {log})"


def gate(fleet: Fleet, host: str) -> tuple[bool, str]:
    """The unit's verify checks: among them, each of its engines up at every gateway and answering
    a request pinned to it through the gateway (roles/engines/verify.py), drained as it still is."""
    status, counts, failures = run_suite(str(fleet.inventory), host, [host], quiet=True)
    if status != 0:
        return False, f"verify: {', '.join(f.split('::', 1)[-1] for f in failures[:3]) or 'exit status ' + str(status)}"
    return True, f"verify: {counts.get(host, {}).get('passed', 0)} passed"


class Rollout:
    def __init__(self, fleet: Fleet, state: RolloutState, skip_unreachable: bool, log):
        self.fleet, self.state, self.skip_unreachable, self.log = fleet, state, skip_unreachable, log
        self.path = state_path(fleet.config_dir, fleet.inventory)
        self.log_dir = self.path.parent / "rollout-logs"

    def run(self) -> bool:
        """True when every unit is done (or skipped as unreachable, when asked)."""
        logging.getLogger("paramiko").setLevel(logging.CRITICAL)
        with ExitStack() as stack:
            gateways = [stack.enter_context(Gateway(h)) for h in self.fleet.with_role("gateway")]
            for number, batch in enumerate(self.state.batches, 1):
                todo = [h for h in batch if self.state.outcome(h).state != DONE]
                if not todo:
                    continue
                self.log(f"batch {number}/{len(self.state.batches)}: {', '.join(todo)}")
                with ThreadPoolExecutor(len(todo)) as pool:
                    outcomes = list(pool.map(lambda h: self._unit(h, gateways), todo))
                failed = sum(o.state == FAILED for o in outcomes)
                if stops(failed, len(todo), self.state.max_fail):
                    self.state.stopped = (f"batch {number}: {failed} of {len(todo)} unit(s) failed, more than --max-fail "
                                          f"{self.state.max_fail:g} %")
                    self.state.save(self.path)
                    return False
        self.state.stopped = ""
        self.state.save(self.path)
        return all(o.state in (DONE, SKIPPED) for o in self.state.units.values())

    def _unit(self, host: str, gateways: list) -> UnitOutcome:
        outcome = self.state.outcome(host)
        outcome.reason = outcome.gate = ""
        started = time.monotonic()
        fleet_host = self.fleet.hosts[host]
        client, why = _reach(fleet_host)
        if client is None:
            outcome.state, outcome.reason = (SKIPPED if self.skip_unreachable else FAILED), why
            self.log(f"{host}: {why}")
            return self._saved(outcome, started)
        try:
            outcome.before = outcome.before or _engines(client, fleet_host)  # a resumed unit keeps its first "before"
            for gateway in gateways:
                if drained := gateway.set_unit_state(host, "drain"):
                    waited = gateway.wait_idle(set(drained), gateway.config.drain_timeout_s)
                    self.log(f"{host}: drained at {gateway.fleet_host.name} in {waited:.1f} s")
            ok, outcome.reason = deploy(self.fleet, host, self.log_dir)
            if ok:
                ok, outcome.gate = gate(self.fleet, host)
            outcome.after = _engines(client, fleet_host)
            for gateway in gateways:
                gateway.set_unit_state(host, "ready" if ok else "maint")  # a failed unit stays out of the gateway
            outcome.state = DONE if ok else FAILED
            self.log(f"{host}: {'done' if ok else 'FAILED, left out of the gateway'}: {outcome.gate or outcome.reason}")
        except GatewayError as err:
            outcome.state, outcome.reason = FAILED, str(err)
            self.log(f"{host}: {err}")
        finally:
            client.close()
        return self._saved(outcome, started)

    def _saved(self, outcome: UnitOutcome, started: float) -> UnitOutcome:
        outcome.seconds = round(time.monotonic() - started, 1)
        self.state.save(self.path)
        return outcome
