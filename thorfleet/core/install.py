"""Install a role's rendered files on the unit: all of them checked with one command, and only those
that differ (content, mode or owner) uploaded, with pyinfra's diff of each change."""

from collections.abc import Collection, Generator
from hashlib import sha256
from io import StringIO
from typing import Any

from pyinfra import logger
from pyinfra.api.command import FileUploadCommand, QuoteString, StringCommand
from pyinfra.api.facts import FactBase
from pyinfra.api.operation import operation
from pyinfra.context import host, state
from pyinfra.facts.files import FileContents
from pyinfra.operations.util.files import generate_color_diff

from thorfleet.core.render import RenderedFile

OWNER = ("root", "root")


FileState = dict[str, str] | None  # {"sha256", "mode", "owner", "group"}, or None when missing
Commands = Generator[Any, Any, None]  # what a pyinfra @operation yields


class FilesState(FactBase[dict[str, FileState]]):
    """`{path: {"sha256", "mode", "owner", "group"} or None when missing}` for many files at once."""

    def command(self, paths: list[str]) -> StringCommand:
        listed = [QuoteString(p) for p in paths]
        return StringCommand(
            "for f in", *listed, "; do",
            'if [ -f "$f" ]; then printf "%s %s %s\\n" "$(sha256sum < "$f" | cut -c1-64)" "$(stat -c "%a %U %G" "$f")" "$f";',
            'else printf -- "- %s\\n" "$f"; fi; done',
        )

    def process(self, output: list[str]) -> dict[str, FileState]:
        found: dict[str, FileState] = {}
        for line in output:
            if line.startswith("- "):
                found[line[2:]] = None
            elif len(words := line.split(" ", 4)) == 5:
                found[words[4]] = {"sha256": words[0], "mode": words[1], "owner": words[2], "group": words[3]}
        return found


def is_current(rendered: RenderedFile, found: FileState) -> bool:
    wanted = {"sha256": sha256(rendered.content.encode()).hexdigest(), "mode": rendered.mode.lstrip("0"),
              "owner": OWNER[0], "group": OWNER[1]}
    return found == wanted


@operation()
def files_installed(files: list[RenderedFile]) -> Commands:
    """Each file at its place with its content, mode and root ownership; its `did_change` gates
    reloads and restarts."""
    found = host.get_fact(FilesState, paths=[f.dest for f in files])
    stale = [f for f in files if not is_current(f, found.get(f.dest))]
    if not stale:
        host.noop(f"{len(files)} files are current: {', '.join(f.dest for f in files)}")
        return
    yield from install_commands(stale, [path for path, file in found.items() if file])


def install_commands(stale: list[RenderedFile], existing: Collection[str]) -> Commands:
    """Stage each file privately and move it into place whole, showing pyinfra's diff of the change
    against the unit's file (`existing`: the destinations already there)."""
    for rendered in stale:
        if state.config.DIFF:
            current = host.get_fact(FileContents, path=rendered.dest) if rendered.dest in existing else None
            host.log(f"Will {'modify' if current is not None else 'create'} {rendered.dest}", logger.info)
            for line in generate_color_diff([line + "\n" for line in current or []], rendered.content.splitlines(True)):
                logger.info("  %s", line)
        staged = host.get_temp_filename(f"thorfleet-file-{rendered.dest}")
        yield StringCommand("(", "umask", "077", "&&", ":", ">", QuoteString(staged), ")", _sudo=False)
        yield FileUploadCommand(StringIO(rendered.content), staged, _sudo=False)
        yield StringCommand("install", "-D", "-m", rendered.mode, "-o", OWNER[0], "-g", OWNER[1],
                            QuoteString(staged), QuoteString(rendered.dest), "&&", "rm", "-f", QuoteString(staged))
