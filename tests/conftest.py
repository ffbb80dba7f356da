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
