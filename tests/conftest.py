import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A copy of the example inventory and its YAML, to break or change without touching the tree."""
    for folder in ("inventory", "group_vars", "host_vars"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    return tmp_path


def require_tool(tool: str, package: str) -> None:
    """Skip when a system tool is missing, saying which package has it; in CI (CI=true) fail instead."""
    if shutil.which(tool):
        return
    message = f"{tool} is missing (install Debian's {package} package)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def require_lab() -> None:
    """The lab needs root and Linux: skip without them, saying why; in CI (CI=true) fail instead."""
    from thorfleet.lab.system import LabError, require_root_linux

    try:
        require_root_linux()
    except LabError as err:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the lab tests: {err}")
        pytest.skip(str(err))


@pytest.fixture(scope="session")
def lab_units():
    """Three lab units, up for the whole test session; taken down at its end unless they were up before."""
    require_lab()
    from thorfleet.lab import lab, layout

    was_up = bool(layout.existing_units())
    units = lab.up(3, log=lambda text: print(f"lab: {text}"))
    yield units
    if not was_up:
        lab.down(log=lambda text: None)
