"""What an operation is about to do, said before its first command. pyinfra runs an operation's body up
to its first command to tell whether it would change anything (a deploy without `-y`, and
`thorfleet plan`'s `--dry` run), so a line said there reaches the plan: thorfleet/plan.py reads them
back per unit (the model bytes a download brings, the packages an install adds, the builds to compile)."""

import re

from pyinfra.context import host

WILL = re.compile(r"\[(?P<host>[^\]]+)\]\s+will (?P<what>.+)")  # the line as pyinfra prints it, colours removed


def will(what: str) -> None:
    host.log_styled(f"will {what}", fg="cyan")
