"""Configuration errors that name the file, the key path and the reason, for many problems at once."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ConfigIssue:
    file: str
    key_path: str
    reason: str
    hosts: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        where = f"{self.file}: {self.key_path}" if self.key_path else self.file
        on = f"  [{', '.join(self.hosts)}]" if self.hosts else ""
        return f"{where}: {self.reason}{on}"


class ConfigError(Exception):
    """One or more problems in the configuration; nothing has touched a host yet."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = merge_hosts(issues)
        super().__init__(self.format())

    def format(self) -> str:
        count = len(self.issues)
        lines = [f"configuration is invalid ({count} problem{'s' if count != 1 else ''}):"]
        lines += [f"  {issue}" for issue in self.issues]
        return "\n".join(lines)


def merge_hosts(issues: list[ConfigIssue]) -> list[ConfigIssue]:
    """The same problem seen on several hosts (a shared group file) is reported once, naming them all."""
    merged: dict[tuple[str, str, str], list[str]] = {}
    for issue in issues:
        hosts = merged.setdefault((issue.file, issue.key_path, issue.reason), [])
        hosts.extend(h for h in issue.hosts if h not in hosts)
    return [ConfigIssue(file, key, reason, tuple(hosts)) for (file, key, reason), hosts in merged.items()]
