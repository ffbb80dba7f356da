import os
import re
import shutil
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The example inventory's exposed engines read their key from this variable, and validation reads
# every secret before anything connects; this value is a test's, not a real key.
os.environ.setdefault("THORFLEET_API_KEY", "example-key-for-tests")
os.environ.setdefault("THORFLEET_METRICS_PASSWORD", "example-password-for-tests")


def closed_port() -> int:
    """A loopback port where nothing listens (bound, then closed, and never listened on)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A copy of the example inventory and its YAML, to break or change without touching the tree.

    Its hosts point at loopback (127.0.0.101 …, one address per unit, as the inventory requires) on a
    port where nothing listens, so that a test that goes wrong can never send traffic to the example's
    192.168.55.x addresses."""
    for folder in ("inventory", "group_vars", "host_vars"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    lab = tmp_path / "inventory" / "lab.py"
    port = closed_port()
    text = re.sub(r'"ssh_hostname": "192\.168\.55\.(\d+)"', rf'"ssh_hostname": "127.0.0.\1", "ssh_port": {port}', lab.read_text())
    assert "192.168." not in text, "the example inventory changed: point its copy at loopback here"
    lab.write_text(text)
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
