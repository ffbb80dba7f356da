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
from thorfleet.rollout.state import DONE, FAILED, SKIPPED, RolloutState, UnitOutcome
from thorfleet.core.ssh import Unreachable
from thorfleet.rollout.steps import Steps


class Rollout:
    def __init__(self, steps: Steps, state: RolloutState, path: Path, skip_unreachable: bool, log: Callable[[str], None]):
        self.steps, self.state, self.path, self.skip_unreachable, self.log = steps, state, path, skip_unreachable, log

    def run(self) -> bool:
        """True when every unit is done (or skipped as unreachable, when asked)."""
        logging.getLogger("paramiko").setLevel(logging.CRITICAL)
        try:
            with self.steps.session():
                for number, batch in enumerate(self.state.batches, 1):
                    todo = [h for h in batch if self.state.outcome(h).state != DONE]
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
        return all(o.state in (DONE, SKIPPED) for o in self.state.units.values())

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
