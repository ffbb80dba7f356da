"""A new user's first contact, as the READMEs tell it: the quick-start commands are taken from README.md
and from `thorfleet init`'s README themselves and run in a fresh project made by `thorfleet init`,
with only the environment variables those READMEs name. Each must do what its README says."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCAFFOLD_README = ROOT / "thorfleet" / "scaffold" / "README.md"


def section(text: str, heading: str) -> str:
    """The text under a `## heading`, up to the next heading of that level."""
    start = text.index(f"## {heading}")
    following = text.find("\n## ", start + 1)
    return text[start:following if following != -1 else None]


def shell_lines(text: str) -> list[str]:
    """The indented command lines of a section (a Markdown code block), comments dropped."""
    lines = []
    for line in text.splitlines():
        if re.match(r"^\s{4,}(export |thorfleet |pyinfra )", line):
            lines.append(line.split("  #", 1)[0].strip())
    return lines


def quick_starts() -> dict[str, list[str]]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return {
        "README.md": shell_lines(section(readme, "From a fresh Thor to `thorfleet verify`"))
        + shell_lines(section(readme, "Try it without touching a host")),
        "thorfleet init's README.md": shell_lines(section(SCAFFOLD_README.read_text(encoding="utf-8"), "Next steps")),
    }


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("first-contact") / "fleet"
    made = subprocess.run([sys.executable, "-c", "from thorfleet.commands import main; main()", "init", str(folder)],
                          capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    return folder


@pytest.mark.parametrize("readme", sorted(quick_starts()))
def test_the_quick_start_works_as_written_with_only_the_variables_it_names(readme, project):
    lines = quick_starts()[readme]
    exported = [re.match(r"export (\w+)=", line).group(1) for line in lines if line.startswith("export ")]
    commands = [line for line in lines if line.startswith("thorfleet ")]
    assert exported and commands, f"{readme}: no quick-start commands found"
    thorfleet = shutil.which("thorfleet", path=str(Path(sys.executable).parent))
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"),
           **{name: f"first-contact-{name.lower()}" for name in exported}}
    for command in commands:
        argv = [thorfleet, *command.split()[1:]]
        done = subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{readme}: `{command}` exited {done.returncode}:\n{done.stdout}{done.stderr}"
        if command.startswith("thorfleet validate"):
            assert done.stdout.startswith("ok "), f"{readme}: `{command}` did not say ok:\n{done.stdout}{done.stderr}"
