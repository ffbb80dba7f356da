"""Users and groups of a unit, read with one command for all the names an operation asks about."""

from pyinfra.api import FactBase
from pyinfra.api.command import QuoteString, StringCommand


class Accounts(FactBase):
    """`{"users": {name: [its groups] or None when missing}, "groups": {name: exists}}`."""

    def command(self, users: list[str], groups: list[str] = ()) -> StringCommand:
        return StringCommand(
            "for u in", *[QuoteString(u) for u in users] or ["''"], "; do",
            '[ -n "$u" ] && { g=$(id -nG "$u" 2>/dev/null) && echo "user $u $g" || echo "user $u ?"; };', "done;",
            "for g in", *[QuoteString(g) for g in groups] or ["''"], "; do",
            '[ -n "$g" ] && { getent group "$g" >/dev/null && echo "group $g yes" || echo "group $g no"; };', "done; true",
        )

    def process(self, output):
        found = {"users": {}, "groups": {}}
        for line in output:
            kind, name, *rest = line.split()
            if kind == "user":
                found["users"][name] = None if rest == ["?"] else rest
            elif kind == "group":
                found["groups"][name] = rest == ["yes"]
        return found
