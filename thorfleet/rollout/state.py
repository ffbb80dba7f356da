"""The rollout's state file: its plan and each unit's outcome, written after every unit, so that
`--resume` carries on where a stopped rollout left off."""

import json
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Final, Literal

from thorfleet.core.json_file import read_json

PENDING: Final = "pending"
DONE: Final = "done"
FAILED: Final = "failed"
SKIPPED: Final = "skipped"
UNCHANGED: Final = "unchanged"  # its plan showed nothing to change: not drained, not deployed
_saving = threading.Lock()  # the units of a batch finish in parallel threads


@dataclass
class UnitOutcome:
    host: str
    state: Literal["pending", "done", "failed", "skipped", "unchanged"] = PENDING
    reason: str = ""
    gate: str = ""
    revision: str = ""  # the unit's newest revision before the rollout touched it ('' before its first deploy)
    perf: str = ""  # the performance gate's figures, before → after (the canary)
    rolled_back: str = ""  # to which revision, and what its gate said, when the unit failed and went back
    before: dict = field(default_factory=dict)  # engine -> its command line and model, before the deploy
    after: dict = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class RolloutState:
    inventory: str
    batches: list[list[str]]
    max_fail: float
    units: dict[str, UnitOutcome] = field(default_factory=dict)
    stopped: str = ""  # why the rollout stopped early ('' when it ran to the end)
    perf_gate: list[str] = field(default_factory=list)  # units benchmarked before and after their change (the canary)
    perf_tolerance: float = 0.10  # the share a figure's median may worsen by before the gate fails
    perf_budget_s: float = 60.0  # about how long the gate's runs take on each side of the change
    undo: str | None = None  # an undo: the revision asked for ('' for the one before the newest); None: a deploy
    undo_to: dict[str, str] = field(default_factory=dict)  # an undo of a rollout: each unit's revision from before it

    def outcome(self, host: str) -> UnitOutcome:
        return self.units.setdefault(host, UnitOutcome(host))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        with _saving:
            partial.write_text(json.dumps(asdict(self), indent=2))
            os.replace(partial, path)  # never half-written

    @classmethod
    def load(cls, path: Path) -> "RolloutState":
        """The state a rollout saved; UnreadableFile when the file is truncated or of another shape."""
        state: RolloutState = read_json(path, cls, "the state of a thorfleet rollout (remove it to start a new rollout)")
        return state


def state_path(config_dir: Path, inventory: Path) -> Path:
    return config_dir / ".thorfleet" / f"rollout-{inventory.stem}.json"
