"""`thorfleet init DIR`: a fleet project of the user's own, from the worked example shipped in the
package (thorfleet/scaffold/: links to this repository's inventory/, group_vars/, host_vars/, roles/ and
deploy.py, plus a README of the next steps)."""

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

SCAFFOLD = resources.files("thorfleet") / "scaffold"


def is_lab_file(relative: str) -> bool:
    """inventory/sim.py, group_vars/sim.yml and host_vars/sim-NN.yml belong to the simulated lab."""
    return Path(relative).name.startswith("sim")


def scaffold_files(lab: bool) -> dict[str, str]:
    """Relative path -> content of every file a new project gets."""
    found: dict[str, str] = {}

    def walk(folder: Traversable, prefix: str) -> None:
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            relative = f"{prefix}{entry.name}"
            if entry.is_dir():
                walk(entry, relative + "/")
            elif entry.name.endswith((".py", ".yml", ".md", ".j2")) and (lab or not is_lab_file(relative)):
                found[relative] = entry.read_text(encoding="utf-8")

    walk(SCAFFOLD, "")
    return found


class InTheWay(Exception):
    """Paths of the destination where a file stands in the way of a folder, or the other way round."""


def _in_the_way(dest: Path, relatives: list[str]) -> list[str]:
    blocked = set()
    for relative in relatives:
        target = dest / relative
        for folder in target.parents:
            if folder.exists() and not folder.is_dir():
                blocked.add(f"{folder} is a file where a folder must go")
        if target.is_dir():
            blocked.add(f"{target} is a folder where a file must go")
    return sorted(blocked)


def init_project(dest: Path, lab: bool) -> list[tuple[str, str]]:
    """Write the files that are missing; leave the others as they are. Returns (path, what happened).
    InTheWay, before anything is written, when a file stands where a folder must go (or a folder where
    a file must)."""
    files = scaffold_files(lab)
    blocked = _in_the_way(dest, list(files))
    if blocked:
        raise InTheWay(blocked)
    done = []
    for relative, content in files.items():
        target = dest / relative
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
            done.append((relative, "created"))
        elif target.read_text(encoding="utf-8") == content:
            done.append((relative, "unchanged"))
        else:
            done.append((relative, "kept (yours differs from the example)"))
    return done
