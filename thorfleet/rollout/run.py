"""One rollout: for each batch, reach its units, drain them at every gateway and wait for their open
requests, deploy them, gate them, and put them back; stop when a batch fails beyond `max_fail`, leaving
the units not reached untouched and serving. The steps themselves are behind `Steps` (rollout/steps.py)."""

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from thorfleet.roles.gateway.runtime import GatewayError
from thorfleet.rollout.batches import stops
from thorfleet.rollout.state import DONE, FAILED, PENDING, SKIPPED, UNCHANGED, RolloutState, UnitOutcome
from thorfleet.core.ssh import Unreachable
from thorfleet.rollout.steps import Steps


class OutageRefused(Exception):
    """A model would have no server while a batch is drained, and the rollout was not allowed to go on."""


class Rollout:
    def __init__(self, steps: Steps, state: RolloutState, path: Path, skip_unreachable: bool, log: Callable[[str], None],
                 every_unit: bool = False, outages: Callable[[set[str]], list[str]] = lambda changing: [],
                 allow_outage: bool = False):
        """`every_unit`: drain, deploy and gate every unit, not only those whose plan shows a change;
        `outages`: for the units that change, the models that would have no server (outages.py)."""
        self.steps, self.state, self.path, self.skip_unreachable, self.log = steps, state, path, skip_unreachable, log
        self.every_unit, self.outages, self.allow_outage = every_unit, outages, allow_outage

    def run(self) -> bool:
        """True when every unit is done, unchanged (or skipped as unreachable, when asked). OutageRefused
        before any unit is touched when a model would lose every server and that is not allowed."""
        logging.getLogger("paramiko").setLevel(logging.CRITICAL)
        try:
            with self.steps.session():
                self._plan()
                for number, batch in enumerate(self.state.batches, 1):
                    todo = [h for h in batch if self.state.outcome(h).state not in (DONE, UNCHANGED)]
                    if not todo:
                        continue
                    self.log(f"batch {number}/{len(self.state.batches)}: {', '.join(todo)}")
                    with ThreadPoolExecutor(len(todo)) as pool:
                        outcomes = list(pool.map(self._unit, todo))
                    failed = sum(o.state == FAILED for o in outcomes)
                    if stops(failed, len(todo), self.state.max_fail):
                        return self._stop(f"batch {number}: {failed} of {len(todo)} unit(s) failed, more than --max-fail "
                                          f"{self.state.max_fail:g} %")
        except GatewayError as err:  # a gateway that cannot be reached: nothing was touched
            return self._stop(str(err))
        self.state.stopped = ""
        self.state.save(self.path)
        return all(o.state in (DONE, SKIPPED, UNCHANGED) for o in self.state.units.values())

    def pending(self) -> list[str]:
        """The units not done yet, in rollout order (a resumed rollout plans them again)."""
        return [h for batch in self.state.batches for h in batch
                if (unit := self.state.units.get(h)) is None or unit.state != DONE]

    def _plan(self) -> None:
        """Which units change (those the plan cannot tell about count as changing), and what that
        leaves without a server; the others are marked unchanged and left alone."""
        pending = self.pending()
        if not self.every_unit:
            self.log(f"planning: what a deploy would change on {', '.join(pending)}")
        changing = set(pending) if self.every_unit else self.steps.changing(pending)
        lost = self.outages(changing)
        for line in lost:
            self.log(f"{'warning' if self.allow_outage else 'error'}: {line}")
        if lost and not self.allow_outage:
            raise OutageRefused("nothing was touched: give such a model a unit in another batch, or pass --allow-outage "
                                "(its clients get 503 with Retry-After meanwhile)")
        for host in pending:
            unit = self.state.units.get(host)
            if host not in changing:
                self.state.outcome(host).state = UNCHANGED
                self.log(f"{host}: nothing to change (its plan): not drained, not deployed")
            elif unit is not None and unit.state == UNCHANGED:  # resumed, and changed since
                unit.state = PENDING

    def _stop(self, why: str) -> bool:
        self.state.stopped = why
        self.state.save(self.path)
        return False

    def _unit(self, host: str) -> UnitOutcome:
        outcome = self.state.outcome(host)
        outcome.reason = outcome.gate = ""
        started = time.monotonic()
        try:
            outcome.before = outcome.before or self.steps.engines(host)  # a resumed unit keeps its first "before"
        except Unreachable as err:
            outcome.state, outcome.reason = (SKIPPED if self.skip_unreachable else FAILED), str(err)
            self.log(f"{host}: {err}")
            return self._saved(outcome, started)
        try:
            for line in self.steps.drain(host):
                self.log(f"{host}: {line}")
            ok, outcome.reason = self.steps.deploy(host)
            if ok:
                ok, outcome.gate = self.steps.gate(host)
            try:
                outcome.after = self.steps.engines(host)
            except Unreachable as err:
                ok, outcome.reason = False, outcome.reason or f"after the deploy: {err}"
            self.steps.enable(host, ok)  # a failed unit stays out of the gateway
            outcome.state = DONE if ok else FAILED
            self.log(f"{host}: {'done' if ok else 'FAILED, left out of the gateway'}: {outcome.gate or outcome.reason}")
        except GatewayError as err:
            outcome.state, outcome.reason = FAILED, str(err)
            self.log(f"{host}: {err}")
        return self._saved(outcome, started)

    def _saved(self, outcome: UnitOutcome, started: float) -> UnitOutcome:
        outcome.seconds = round(time.monotonic() - started, 1)
        self.state.save(self.path)
        return outcome
