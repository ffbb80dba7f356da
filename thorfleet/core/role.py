"""What a role exports to the rest of thorfleet, in one place (its package's `ROLE`).

The registry (thorfleet/roles/__init__.py) lists the roles in the order the deploy applies them;
from it come HostConfig's keys, the deploy, `thorfleet render`'s files, the configuration reference
and the verify suite.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from thorfleet.core.render import RenderedFile

KeyPath = tuple[str, ...]
Problem = tuple[KeyPath, str]  # (key path in the host's config, reason)


def _no_files(config) -> list[RenderedFile]:
    return []


def _no_problems(config) -> Iterable[Problem]:
    return ()


@dataclass(frozen=True)
class Role:
    name: str
    # HostConfig keys this role owns: key -> (annotation, pydantic Field with default and description).
    config: dict[str, tuple]
    # Its pyinfra @deploy, called with the host's HostConfig.
    apply: Callable
    # Every file it writes, rendered from the config (daemon.json: the overlay it merges, labelled so).
    files: Callable[..., list[RenderedFile]] = _no_files
    # Checks across its keys and other roles' keys that a single model cannot make.
    problems: Callable[..., Iterable[Problem]] = _no_problems
    # Module of its testinfra checks (`thorfleet verify`); None when it has none.
    checks: str | None = None
    # Settings that are valid but known to be a mistake (slow, oversized): warnings, (key path, reason).
    advice: Callable[..., Iterable[Problem]] = _no_problems
    # The inventory group whose hosts alone apply it (the gateway); None: every host whose `roles` name it.
    group: str | None = None
    # Debian packages it always installs (the lab's image carries them, so that units converge offline).
    packages: tuple[str, ...] = ()
