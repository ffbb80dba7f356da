"""One rollout: for each batch, reach its units, drain them at every gateway and wait for their open
requests, deploy them, gate them, and put them back; a unit that fails is deployed again with the
revision it had before and, when that passes its gate, put back too. Stop when a batch fails beyond
`max_fail`, leaving the units not reached untouched and serving. An undo does the same with each
unit's earlier revision in place of the deploy. The steps themselves are behind `Steps` (rollout/steps.py)."""

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

from thorfleet.roles.gateway.runtime import GatewayError
from thorfleet.rollout.batches import stops
from thorfleet.rollout.state import DONE, FAILED, PENDING, SKIPPED, UNCHANGED, RolloutState, UnitOutcome
from thorfleet.core.ssh import Unreachable
from thorfleet.revisions.unit import RevisionUnavailable, chosen
from thorfleet.rollout.outages import Cover, StandIn
from thorfleet.rollout.perf_gate import judge
from thorfleet.roles.engines.stand_in import StandInFailed
from thorfleet.rollout.steps import Steps


class OutageRefused(Exception):
    """A model would have no server while a batch is drained, and the rollout was not allowed to go on."""


class Rollout:
    def __init__(self, steps: Steps, state: RolloutState, path: Path, skip_unreachable: bool, log: Callable[[str], None],
                 every_unit: bool = False, outages: Callable[[set[str]], Cover] = lambda changing: Cover(),
                 allow_outage: bool = False, rollback: bool = True):
        """`every_unit`: drain, deploy and gate every unit, not only those whose plan shows a change (an
        undo always does); `outages`: for the units that change, the stand-ins that keep models served
        and the models that would still have no server (outages.py); `rollback`: a unit that fails is
        deployed again with its revision from before."""
        self.steps, self.state, self.path, self.skip_unreachable, self.log = steps, state, path, skip_unreachable, log
        self.every_unit, self.outages, self.allow_outage, self.rollback = every_unit, outages, allow_outage, rollback
        self.stand_ins: dict[str, list[StandIn]] = {}

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
        every_unit = self.every_unit or self.state.undo is not None
        if not every_unit:
            self.log(f"planning: what a deploy would change on {', '.join(pending)}")
        changing = set(pending) if every_unit else self.steps.changing(pending)
        covered = self.outages(changing)
        for line in covered.covered:
            self.log(f"stand-in: {line}")
        for line in covered.lost:
            self.log(f"{'warning' if self.allow_outage else 'error'}: {line}")
        if covered.lost and not self.allow_outage:
            raise OutageRefused("nothing was touched: give such a model a unit in another batch, or pass --allow-outage "
                                "(its clients get 503 with Retry-After meanwhile)")
        self.stand_ins = covered.stand_ins
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
        outcome.reason = outcome.gate = outcome.perf = outcome.rolled_back = ""
        started = time.monotonic()
        try:
            outcome.before = outcome.before or self.steps.engines(host)  # a resumed unit keeps its first "before"
            revisions = self.steps.revisions(host)
        except (Unreachable, RevisionUnavailable) as err:
            skip = self.skip_unreachable and isinstance(err, Unreachable)
            outcome.state, outcome.reason = (SKIPPED if skip else FAILED), str(err)
            self.log(f"{host}: {err}")
            return self._saved(outcome, started)
        outcome.revision = outcome.revision or (revisions[-1]["name"] if revisions else "")
        wanted = self.state.undo_to.get(host) or self.state.undo or None
        target = None if self.state.undo is None else chosen(revisions, wanted)
        if isinstance(target, str):
            outcome.state, outcome.reason = FAILED, target
            self.log(f"{host}: FAILED: {target}")
            return self._saved(outcome, started)
        stand_ins = self.stand_ins.get(host, [])
        try:
            for line in self.steps.start_stand_ins(host, stand_ins) if stand_ins else []:
                self.log(f"{host}: {line}")
            self._drain_deploy_gate(host, outcome, revisions, target)
        except (GatewayError, Unreachable, StandInFailed) as err:
            outcome.state, outcome.reason = FAILED, str(err)
            self.log(f"{host}: {err}")
        finally:
            if stand_ins:
                self._stop_stand_ins(host, stand_ins)
        return self._saved(outcome, started)

    def _drain_deploy_gate(self, host: str, outcome: UnitOutcome, revisions: list[dict[str, Any]],
                           target: dict[str, Any] | None) -> None:
        for line in self.steps.drain(host):
            self.log(f"{host}: {line}")
        if target is None:
            gated = host in self.state.perf_gate
            before = self.steps.measure(host, self.state.perf_budget_s) if gated else {}
            ok, outcome.reason = self.steps.deploy(host)
            if ok:
                ok, outcome.gate = self.steps.gate(host)
            if ok and gated:
                ok, outcome.perf = judge(before, self.steps.measure(host, self.state.perf_budget_s, before), self.state.perf_tolerance)
                self.log(f"{host}: performance gate: {outcome.perf}")
                outcome.reason = "" if ok else "the performance gate failed"
        else:
            ok, said = self.steps.revert(host, target)
            outcome.gate, outcome.reason = (said, "") if ok else ("", said)
        back = not ok and target is None and self.rollback and self._rolled_back(host, outcome, revisions)
        try:
            outcome.after = self.steps.engines(host)
        except Unreachable as err:
            ok, outcome.reason = False, outcome.reason or f"after the deploy: {err}"
        self.steps.enable(host, ok or back)  # a failed unit stays out of the gateway, unless it is back as it was
        outcome.state = DONE if ok else FAILED
        fate = "done" if ok else "FAILED, rolled back and back in the gateway" if back else "FAILED, left out of the gateway"
        self.log(f"{host}: {fate}: {outcome.reason or outcome.gate}")

    def _stop_stand_ins(self, host: str, stand_ins: list[StandIn]) -> None:
        """Once the unit is back (or failed): its stand-ins out of the gateways and stopped; a stand-in that
        cannot be removed is said, and fails a unit that was done (it still serves the old revision)."""
        try:
            for line in self.steps.stop_stand_ins(host, stand_ins):
                self.log(f"{host}: {line}")
        except (GatewayError, Unreachable) as err:
            outcome = self.state.outcome(host)
            outcome.state, outcome.reason = FAILED, f"its stand-in could not be removed: {err}"
            self.log(f"{host}: {outcome.reason}")

    def _rolled_back(self, host: str, outcome: UnitOutcome, revisions: list[dict[str, Any]]) -> bool:
        """The failed unit deployed again with the revision it had before the rollout; whether that passed its gate."""
        previous = next((m for m in revisions if m["name"] == outcome.revision), None)
        if previous is None:
            outcome.rolled_back = "not rolled back: the unit had no revision before this rollout"
            return False
        self.log(f"{host}: failed ({outcome.reason or outcome.gate}); rolling back to revision {previous['name']}")
        back, said = self.steps.revert(host, previous)
        outcome.rolled_back = f"{'rolled back' if back else 'rollback FAILED'}: {said}"
        return back

    def _saved(self, outcome: UnitOutcome, started: float) -> UnitOutcome:
        outcome.seconds = round(time.monotonic() - started, 1)
        self.state.save(self.path)
        return outcome
