"""The package's shape (docs/architecture.md): layers that import only downwards, roles that import
no other role, no import cycle, one registry of roles from which the configuration comes, and
engine kinds that each state what the rest asks.

The layers come from the package tree itself: every module is placed by its top-level name, and any
top-level module that is not one of the named layers is the application layer, so a new module is
checked without being listed here."""

import ast
from importlib import resources
from importlib.metadata import packages_distributions
from importlib.util import find_spec
from pathlib import Path

from thorfleet.fleet.schema import HostConfig
from thorfleet.roles import ROLE_NAMES, ROLES
from thorfleet.roles.engines.config import ContainerEngine, Launch, NativeEngine
from thorfleet.roles.engines.kinds import KINDS, kind_name

PACKAGE = Path(resources.files("thorfleet"))
# Lowest first; a module may import its own layer and those below. The lab (an extra) stands beside the
# application: only the commands import it.
RANK = {"core": 0, "roles": 1, "fleet": 2, "app": 3, "lab": 3, "commands": 4}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py") if "scaffold" not in path.parts}


def layer_of(module: str) -> str:
    top = module.split(".")[1] if "." in module else ""
    return top if top in RANK else "app"


def imports_of(module: str) -> set[str]:
    """The thorfleet modules this one imports (a name imported from a package counts as its module)."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in MODULES else node.module
                     for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        found.update(name for name in names if name in MODULES)
    return found


def test_every_layer_imports_only_its_own_and_those_below():
    back_arrows = [f"{module} ({layer_of(module)}) imports {target} ({layer_of(target)})"
                   for module in MODULES for target in imports_of(module)
                   if RANK[layer_of(target)] > RANK[layer_of(module)]
                   or {layer_of(module), layer_of(target)} == {"app", "lab"}]
    assert back_arrows == []


def test_a_role_imports_core_and_itself_only():
    crossing = []
    for module in MODULES:
        parts = module.split(".")
        if parts[1:2] != ["roles"] or len(parts) < 3:
            continue
        for target in imports_of(module):
            target_parts = target.split(".")
            if target_parts[1] == "roles" and target_parts[2:3] != parts[2:3]:
                crossing.append(f"{module} imports {target}")
            elif target_parts[1] not in ("core", "roles"):
                crossing.append(f"{module} imports {target}")
    assert crossing == []


def test_no_import_cycle():
    graph = {module: imports_of(module) for module in MODULES}
    cycles, state = [], {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                cycles.append(" -> ".join(trail[trail.index(target):] + [module, target]) if target in trail else f"{module} -> {target}")
            elif target not in state:
                visit(target, trail + [module])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
    assert cycles == []


def test_only_the_commands_import_the_lab():
    users = sorted(m for m in MODULES if layer_of(m) not in ("lab", "commands")
                   and any(layer_of(t) == "lab" for t in imports_of(m)))
    assert users == []


def test_the_package_installs_no_top_level_roles_module():
    """`roles/` is a fleet project's own folder (this repository's worked example has one): the package
    ships its roles inside `thorfleet.roles` only."""
    assert "thorfleet" not in packages_distributions().get("roles", [])


def test_host_config_keys_come_from_the_registry():
    role_keys = [key for role in ROLES for key in role.config]
    assert list(HostConfig.model_fields) == ["roles", *role_keys]
    assert HostConfig().roles == ROLE_NAMES == ["base", "power", "image_mirror", "docker", "builds", "models", "engines", "gateway", "unit_metrics", "monitoring"]
    for role in ROLES:
        assert callable(role.apply) and callable(role.files) and callable(role.problems)
        if role.checks:
            assert find_spec(role.checks) is not None, role.checks


def test_every_engine_kind_states_what_the_rest_asks_of_it():
    launch = Launch(name="e", served_name="e", model_dir="/models/m", model_path="/models/m/f", api_key_file="/k", preset_file="/p")
    assert len({kind_name(kind) for kind in KINDS}) == len(KINDS)
    for kind in KINDS:
        assert kind.health_path.startswith("/")
        assert kind.api_key_via in (None, "file", "env") and (kind.api_key_via != "env" or kind.api_key_env)
        if issubclass(kind, NativeEngine):
            assert kind.build in type(HostConfig().builds).model_fields and kind.program
        else:
            assert issubclass(kind, ContainerEngine) and kind.entry_command
        extra = {"image": "owner/name:1"} if issubclass(kind, ContainerEngine) else {}
        if "models" in kind.model_fields:  # a router
            extra = {"models": {"m": {"model": "m"}}}
        engine = kind(kind=kind_name(kind), port=8000, **extra)
        assert all(isinstance(word, str) for word in engine.command_args(launch))
