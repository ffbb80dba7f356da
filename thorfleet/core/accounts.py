"""Users and groups of a unit, read with one command for all the names an operation asks about."""

from collections.abc import Sequence
from typing import Any

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactBase

AccountsFound = dict[str, dict[str, Any]]


class Accounts(FactBase[AccountsFound]):
    """`{"users": {name: [its groups] or None when missing}, "groups": {name: exists}}`."""

    def command(self, users: list[str], groups: Sequence[str] = ()) -> StringCommand:
        def words(names: Sequence[str]) -> list[str | QuoteString]:
            return [QuoteString(name) for name in names] or ["''"]

        return StringCommand(
            "for u in", *words(users), "; do",
            '[ -n "$u" ] && { g=$(id -nG "$u" 2>/dev/null) && echo "user $u $g" || echo "user $u ?"; };', "done;",
            "for g in", *words(groups), "; do",
            '[ -n "$g" ] && { getent group "$g" >/dev/null && echo "group $g yes" || echo "group $g no"; };', "done; true",
        )

    def process(self, output: list[str]) -> AccountsFound:
        found: AccountsFound = {"users": {}, "groups": {}}
        for line in output:
            kind, name, *rest = line.split()
            if kind == "user":
                found["users"][name] = None if rest == ["?"] else rest
            elif kind == "group":
                found["groups"][name] = rest == ["yes"]
        return found
