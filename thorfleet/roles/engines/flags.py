"""What an installed engine accepts, read from its `--help`, and the check of a command line against it.

Both llama.cpp (`common/arg.cpp`, `common_arg::to_string`) and whisper.cpp (`examples/server/
server.cpp`, `whisper_print_usage`) print one option per line: its spellings separated by ", ",
each maybe followed by a value hint (`N`, `FNAME`, `[on|off|auto]`), then two or more spaces and the
help text, continued on indented lines. A hint in brackets or braces lists the values it takes;
so does a help text made of `- value: meaning` lines (llama.cpp's `--load-mode`).
"""

import re
from dataclasses import dataclass, field

from thorfleet.roles.engines.kinds import by_name

_FLAG = re.compile(r"^--?[A-Za-z0-9][\w.+-]*$")
_CHOICE_LINE = re.compile(r"^\s*- ([\w.+-]+):")

@dataclass
class Option:
    names: list[str]  # every spelling, with dashes
    takes_value: bool
    choices: list[str] = field(default_factory=list)
    listed: list[str] = field(default_factory=list)  # `- value:` lines of its help text


def parse_help(text: str) -> dict[str, Option]:
    """Every spelling of every option in a `--help` text -> its Option."""
    options: dict[str, Option] = {}
    current: Option | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("-") and (not line.startswith(" " * 8)):
            head, rest = _split_head(stripped)
            spellings, hint = _spellings(head)
            if not spellings:
                current = None
                continue
            current = Option(spellings, takes_value=bool(hint), choices=_hint_choices(hint))
            for name in spellings:
                options[name] = current
        elif current is not None and line.startswith(" "):
            rest = stripped
        else:
            current = None
            continue
        if current is not None and current.takes_value and not current.choices:
            match = _CHOICE_LINE.match(rest)
            if match:
                current.listed.append(match.group(1))
    for option in options.values():
        if not option.choices and len(option.listed) >= 2:
            option.choices = option.listed
    return options


def _split_head(line: str) -> tuple[str, str]:
    """(the option's spellings and hints, its help text). Spellings are padded apart (`-h,    --help`,
    `-d  N,     --duration N`), so a padded chunk still belongs to them after a comma, when it is
    itself a flag, or when it is a bare hint like `N,`."""
    chunks = re.split(r"\s{2,}", line)
    head = chunks[0]
    for index, chunk in enumerate(chunks[1:], start=1):
        if head.endswith(",") or chunk.startswith("-") or re.fullmatch(r"[A-Z_]+,?", chunk):
            head += " " + chunk
        else:
            return head, "  ".join(chunks[index:])
    return head, ""


def _spellings(head: str) -> tuple[list[str], str]:
    """`-lm,   --load-mode MODE` -> (['-lm', '--load-mode'], 'MODE'); `-t N,  --threads N` likewise.
    Spellings are split at a comma before a dash, so argparse's `{auto,half}` choices stay whole."""
    names, hint = [], ""
    for piece in re.split(r",\s*(?=-)", head):
        words = piece.split()
        if words and _FLAG.match(words[0]):
            names.append(words[0])
            hint = " ".join(words[1:]) or hint
    return names, hint.strip()


def _hint_choices(hint: str) -> list[str]:
    if hint == "<boolean>":  # Triton's ParseBoolOption
        return ["true", "on", "1", "false", "off", "0"]
    bracketed = re.fullmatch(r"[\[{<]([^\]}>]+)[\]}>]", hint)
    if bracketed and ("|" in bracketed.group(1) or "," in bracketed.group(1)):
        return [c.strip() for c in re.split(r"[|,]", bracketed.group(1)) if c.strip()]
    return []


@dataclass
class FlagProblem:
    flag: str
    reason: str
    suggestion: str | None = None


def check_args(kind: str, words: list[str], options: dict[str, Option]) -> list[FlagProblem]:
    """Flags among a command's arguments (the words after the program, or after `vllm serve`) that
    the engine does not accept as given. A value comes as the next word or, for long flags, after `=`
    (`--model-repository=/models`); words that are not flags (vLLM's model) are passed over."""
    problems, i = [], 0
    while i < len(words):
        word = words[i]
        i += 1
        if not word.startswith("-"):
            continue
        flag, inline, partitioned = word.partition("=") if word.startswith("--") else (word, "", "")
        value: str | None = partitioned
        option = options.get(flag)
        if option is None:
            renamed = by_name(kind).renamed_flags.get(flag.lstrip("-"))
            problems.append(FlagProblem(flag, "is not an option of this version",
                                        f"it became --{renamed[0]}: write {renamed[1]}" if renamed else None))
            continue
        if not option.takes_value:
            if inline:
                problems.append(FlagProblem(flag, "takes no value"))
            continue
        if not inline:
            value = words[i] if i < len(words) else None
            i += 1
        if value is None:
            problems.append(FlagProblem(flag, "needs a value"))
        elif option.choices and value not in option.choices:
            problems.append(FlagProblem(flag, f"does not take {value!r} (it takes {', '.join(option.choices)})"))
    return problems


def command_line_problems(kind: str, help_text: str, argv: list[str], command: list[str]) -> list[str]:
    """What the engine, by its `--help` text, does not accept in argv, whose first words are `command`
    (the program, or `vllm serve` in an image). Empty when it accepts everything."""
    options = parse_help(help_text)
    if not options:
        shown = " | ".join(line.strip() for line in help_text.splitlines() if line.strip())[:400]
        return [f"`{' '.join(command)} --help` listed no options, so nothing could be checked (it printed: {shown})"]
    return [f"{p.flag} {p.reason}" + (f"; {p.suggestion}" if p.suggestion else "")
            for p in check_args(kind, argv[len(command):], options)]
