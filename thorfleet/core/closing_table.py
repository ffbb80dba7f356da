"""The deploy's closing table: the artifacts it placed on each unit (model files, engine builds, container
images), where each came from (the fan-out, the controller's cache, the hub; compiled there or the
fleet's copy; pulled, or loaded from an archive), the time the unit spent in that role, and the model
bytes that crossed the uplink. A deploy that placed nothing prints nothing: a second run is quiet.

Each operation with something to place records it when its body runs (`model_planned`,
`build_planned`, `image_planned`: while the deploy is planned, or with `-y` as pyinfra executes it); pyinfra's callbacks,
hooked while the deploy is planned (thorfleet/deploy.py), time each unit's operations of those roles;
after the deploy's last operation each unit says what it holds, with the same listing
`thorfleet hosts --artifacts` uses.
"""

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pyinfra import logger
from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.state import BaseStateCallback
from rich.console import Console
from rich.table import Table

from thorfleet.core.holdings import listing

ROLES = ("builds", "docker", "models")  # pyinfra names their operations "<role> | …"
UPLINK_ORIGINS = ("hub", "url")  # a unit's own download from the internet


@dataclass
class ModelFolder:
    """The files of one model folder a unit lacked when the deploy was planned (model names may share a folder)."""

    models: set[str]
    sizes: dict[str, int]  # path in the folder → bytes (0 when the hub does not say)


@dataclass
class Planned:
    """What one unit was to receive."""

    builds_root: str | None = None
    models: dict[str, ModelFolder] = field(default_factory=dict)  # folder → what it lacked
    builds: dict[str, str] = field(default_factory=dict)  # engine → build id
    images: dict[str, str] = field(default_factory=dict)  # image reference → how it comes (pulled, or an archive)


@dataclass
class Placements:
    units: dict[str, Planned] = field(default_factory=dict)
    from_hubs: int = 0  # bytes the controller's model cache took from the hubs in this deploy (the models role says)
    started: dict[tuple[str, str], float] = field(default_factory=dict)  # (unit, role) → its first operation's start
    ended: dict[tuple[str, str], float] = field(default_factory=dict)  # (unit, role) → its last operation's end

    def took(self, unit: str, role: str) -> str:
        if (unit, role) not in self.ended or (unit, role) not in self.started:
            return "-"
        return f"{max(self.ended[(unit, role)] - self.started[(unit, role)], 0.0):.1f} s"


def placements(state: Any) -> Placements:
    """This deploy's record, kept on pyinfra's state; the first call hooks the closing table to the deploy."""
    if not hasattr(state, "thorfleet_placements"):
        state.thorfleet_placements = Placements()
        state.add_callback_handler(ClosingTable())
    found: Placements = state.thorfleet_placements
    return found


def model_planned(state: Any, unit: str, spec: dict[str, Any], pending: list[dict[str, Any]], from_hubs: int) -> None:
    """Record a model folder's files to place; `from_hubs`: what the controller's cache took from the hubs
    so far (it fills while the deploy is planned)."""
    record = placements(state)
    record.from_hubs = max(record.from_hubs, from_hubs)
    folder = record.units.setdefault(unit, Planned()).models.setdefault(spec["dest"], ModelFolder(set(), {}))
    folder.models.add(spec["name"])
    folder.sizes.update({f["path"]: f["size"] or 0 for f in pending})


def build_planned(state: Any, unit: str, builds_root: str, engine: str, build: str) -> None:
    planned = placements(state).units.setdefault(unit, Planned())
    planned.builds_root = builds_root
    planned.builds[engine] = build


def image_planned(state: Any, unit: str, image: str, origin: str) -> None:
    """Record an image to place and how it comes; recorded again when that is known better (an archive's copy
    from the fan-out or uploaded, as the deploy runs)."""
    placements(state).units.setdefault(unit, Planned()).images[image] = origin


DOCKER_SIZES = {"B": 1e-6, "kB": 1e-3, "MB": 1.0, "GB": 1e3, "TB": 1e6}  # `docker image ls` sizes, in decimal units


def _image_held(image: str, listed: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The listed image that is `image` (a tag; or, pinned by digest, one of the same repository)."""
    repository = image.split("@", 1)[0] if "@" in image else None
    for found in listed:
        if found["name"] == image or (repository and found["name"].rsplit(":", 1)[0] == repository):
            return found
    return None


def _mb(size: str) -> str:
    number = size.rstrip("kMGTB")
    try:
        return f"{float(number) * DOCKER_SIZES[size[len(number):]]:.1f}"
    except (ValueError, KeyError):
        return size


def table(record: Placements, held: dict[str, dict[str, Any]]) -> tuple[Table, str]:
    """The closing table and its last line (none when no model was placed), from what was planned and what
    each unit holds (the listing's JSON; a unit missing from `held` holds nothing we know of)."""
    rows = Table(title="Artifacts placed by this deploy")
    for column in ("unit", "artifact", "files", "MB", "from", "time in the role"):
        rows.add_column(column, justify="right" if column in ("files", "MB") else "left")
    by_units = 0
    for unit, planned in sorted(record.units.items()):
        found = held.get(unit, {})
        origin = {model["name"]: model["from"] for model in found.get("models", [])}
        for folder, lacked in sorted(planned.models.items()):
            origins = [origin.get(f"{folder.rstrip('/')}/{path}", "not placed") for path in lacked.sizes]
            by_units += sum(size for path, size in lacked.sizes.items()
                            if origin.get(f"{folder.rstrip('/')}/{path}") in UPLINK_ORIGINS)
            rows.add_row(unit, "model " + ", ".join(sorted(lacked.models)), str(len(lacked.sizes)),
                         f"{sum(lacked.sizes.values()) / 1e6:.1f}",
                         ", ".join(f"{where} {count}" for where, count in sorted(Counter(origins).items())),
                         record.took(unit, "models"))
        current = {build["name"]: build for build in found.get("builds", [])}
        for engine, build in sorted(planned.builds.items()):
            now = current.get(engine, {})
            placed = now.get("id") == build
            rows.add_row(unit, f"{engine} {build}", "-", f"{now['bytes'] / 1e6:.1f}" if placed else "-",
                         now["from"] if placed else "not placed", record.took(unit, "builds"))
        for image, how in sorted(planned.images.items()):
            there = _image_held(image, found.get("images", []))
            rows.add_row(unit, f"image {image}", "-", _mb(there["size"]) if there else "-",
                         how if there else "not placed", record.took(unit, "docker"))
        rows.add_section()
    if not any(planned.models for planned in record.units.values()):
        return rows, ""
    starts = [t for (_, role), t in record.started.items() if role == "models"]
    ends = [t for (_, role), t in record.ended.items() if role == "models"]
    span = max(ends, default=0.0) - min(starts, default=0.0)
    line = (f"models over the uplink: {(record.from_hubs + by_units) / 1e6:.1f} MB (the controller's cache from the "
            f"hubs {record.from_hubs / 1e6:.1f} MB, units from the internet {by_units / 1e6:.1f} MB); the models role took "
            f"{max(span, 0.0):.1f} s from the first unit's start to the last unit's end")
    return rows, line


class ClosingTable(BaseStateCallback):
    @staticmethod
    def operation_host_start(state: Any, host: Any, op_hash: str) -> None:
        role = _role(state, op_hash)
        if role and op_hash in state.ops[host]:  # pyinfra calls this for the hosts that skip it too
            placements(state).started.setdefault((host.name, role), time.monotonic())

    @staticmethod
    def operation_host_success(state: Any, host: Any, op_hash: str, retry_count: int = 0) -> None:
        role = _role(state, op_hash)
        if role:
            placements(state).ended[(host.name, role)] = time.monotonic()

    @staticmethod
    def operation_host_error(state: Any, host: Any, op_hash: str, retry_count: int = 0, max_retries: int = 0) -> None:
        ClosingTable.operation_host_success(state, host, op_hash)

    @staticmethod
    def operation_end(state: Any, op_hash: str) -> None:
        record = placements(state)
        if not record.units or op_hash != state.get_op_order()[-1]:
            return
        held = {}
        for host in state.inventory:
            planned = record.units.get(host.name)
            if planned is None or not host.connected:
                continue
            command = listing(None, planned.builds_root, tuple(sorted(planned.models)))
            try:
                ok, output = host.run_shell_command(StringCommand(*(QuoteString(word) for word in command)), _sudo=True)
                held[host.name] = json.loads("\n".join(output.stdout_lines)) if ok else {}
            except Exception as err:  # a unit lost at the very end: its rows say "not placed", the deploy goes on
                logger.warning(f"{host.name}: what it holds could not be read for the closing table ({err})")
        rows, line = table(record, held)
        console = Console(stderr=True)
        if not console.is_terminal:  # a log file: rows unwrapped
            console.width = 160
        console.print(rows)
        if line:
            logger.info(line)


def _role(state: Any, op_hash: str) -> str | None:
    for name in state.get_op_meta(op_hash).names:
        role = str(name).partition(" | ")[0]
        if role in ROLES:
            return role
    return None
