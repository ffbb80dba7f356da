"""Ansible's `serial` and `max_fail_percentage`, as its documentation and its executor define them.

- A batch size is a number of hosts or a percentage of all the hosts of the rollout, rounded down
  and at least 1; a list of sizes is used in order and its last value repeats.
- A batch fails the rollout when the share of its hosts that failed *exceeds* the maximum (so 0 %
  stops at the first failure), or when every host in it failed, whatever the maximum.
"""

import re

SIZE_RE = re.compile(r"^(\d+)(%?)$")


def parse_size(text: str) -> int | str:
    """'3' -> 3, '25%' -> '25%'; anything else is an error that says what is accepted."""
    match = SIZE_RE.match(text.strip())
    if not match or (int(match[1]) == 0 and not match[2]):
        raise ValueError(f"batch size {text!r}: give a number of hosts (1 or more) or a percentage such as 30%")
    if match[2] and int(match[1]) > 100:
        raise ValueError(f"batch size {text!r}: a percentage is at most 100%")
    return match[0] if match[2] else int(match[1])


def size_of(size: int | str, total: int) -> int:
    """Hosts in one batch: a percentage of `total` rounded down, at least 1 (Ansible's pct_to_int)."""
    if isinstance(size, str):
        return int(int(size[:-1]) / 100.0 * total) or 1
    return size


def batches(hosts: list[str], sizes: list[int | str]) -> list[list[str]]:
    """The hosts cut into batches of the given sizes, the last size repeating; one batch of all of
    them when no size is given (Ansible's default)."""
    sizes = sizes or ["100%"]
    left, found, index = list(hosts), [], 0
    while left:
        count = size_of(sizes[index], len(hosts))
        found.append(left[:count])
        left = left[count:]
        index = min(index + 1, len(sizes) - 1)
    return found


def plan(hosts: list[str], canary: str | None, sizes: list[int | str]) -> list[list[str]]:
    """The canary alone first, then the other hosts in batches (percentages of those others)."""
    if canary is None:
        return batches(hosts, sizes)
    return [[canary]] + batches([h for h in hosts if h != canary], sizes)


def stops(failed: int, size: int, max_fail_percent: float) -> bool:
    """Whether a batch of `size` hosts with `failed` failures ends the rollout."""
    return failed > 0 and (failed == size or failed / size > max_fail_percent / 100.0)
