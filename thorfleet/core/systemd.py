"""Quoting for systemd unit and environment files.

systemd splits `ExecStart=` into words itself (no shell): double quotes group, C escapes are
unescaped, `%` starts a specifier and `$` an environment variable. Every argument is quoted so
that the process receives exactly the string from the config.
"""

import re

_SAFE_WORD = re.compile(r"^[A-Za-z0-9_@+=:,./-]+$")
_FLAG = re.compile(r"^-[A-Za-z-]")
_C_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def quote_exec_arg(arg: str) -> str:
    """One word of an Exec line, exactly as the process will receive it."""
    escaped = arg.replace("%", "%%").replace("$", "$$")
    if _SAFE_WORD.match(arg):
        return escaped
    return '"' + "".join(_C_ESCAPES.get(ch, ch) for ch in escaped) + '"'


def exec_line(parts: list[list[str]]) -> str:
    """An Exec command line from argv parts (program, image, server command...): each part and
    each flag starts a continued line, so that the unit reads like the seeds' commands."""
    lines: list[str] = []
    for part in parts:
        words = [quote_exec_arg(str(a)) for a in part]
        lines.append(words[0])
        for word in words[1:]:
            if _FLAG.match(word):
                lines.append(word)
            else:
                lines[-1] += " " + word
    return " \\\n    ".join(lines)


def unit_value(value: str) -> str:
    """A free-text setting of a unit file (Description=): `%` would start a specifier."""
    if "\n" in value:
        raise ValueError(f"{value!r}: a unit setting is one line")
    return value.replace("%", "%%")


def quote_env_value(value: str) -> str:
    """A value for an EnvironmentFile= line (shell-like double quotes)."""
    return '"' + re.sub(r'([\\"`$])', r"\\\1", value) + '"'
