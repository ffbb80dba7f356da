"""JSON files thorfleet writes and reads back (a rollout's state, bench results): read whole, checked
against the shape that reads them, and refused in one line when truncated, hand-edited or not
thorfleet's at all."""

from pathlib import Path
from typing import TypeVar

from pydantic import TypeAdapter, ValidationError

T = TypeVar("T")


class UnreadableFile(ValueError):
    """A file a command was given, or keeps, that is not what it should be: which file, what it should
    be, and the first thing wrong with it. The `thorfleet` command prints it as one line (exit 2)."""


def read_json(path: Path, shape: type[T], what: str) -> T:
    """The file's JSON as `shape` (a dataclass or a pydantic model) describes it."""
    try:
        text = path.read_bytes()
    except OSError as err:
        raise UnreadableFile(f"{path}: cannot be read: {err.strerror}") from None
    try:
        return TypeAdapter(shape).validate_json(text)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise UnreadableFile(f"{path}: is not {what}: {where + ': ' if where else ''}{first['msg']}") from None
