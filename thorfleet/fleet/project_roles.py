"""A fleet project's own roles, Ansible-style: `roles/<name>/` at the project's top, each a package with
the same contract as thorfleet's (`ROLE = Role(...)` in its `__init__.py`: config, deploy, files, fleet
facts, verify checks), its templates beside it. `roles/order.yml` lists them in the order the deploy
applies them, after thorfleet's roles; a folder it does not list, or a name it lists without a folder,
is an error (docs/own-roles.md)."""

import hashlib
import importlib
import sys
import types
from pathlib import Path

import yaml

from thorfleet.core.role import Role
from thorfleet.fleet import strict_yaml
from thorfleet.fleet.errors import ConfigError, ConfigIssue
from thorfleet.fleet.loader import display_path
from thorfleet.roles import ROLES

FOLDER = "roles"
ORDER = "order.yml"


def _package(folder: Path) -> str:
    """A package name of the project's own for its roles folder (two projects in one process stay apart)."""
    name = "thorfleet_project_" + hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:10]
    if name not in sys.modules:
        package = types.ModuleType(name)
        package.__path__ = [str(folder)]
        sys.modules[name] = package
    return name


def _order(folder: Path) -> list[str]:
    label = display_path(folder / ORDER)
    if not (folder / ORDER).is_file():
        raise ConfigError([ConfigIssue(label, "", f"is missing: list the roles of {display_path(folder)}/ in the order the "
                                                  "deploy applies them (a YAML list of their folder names)")])
    try:
        order = strict_yaml.load((folder / ORDER).read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError([ConfigIssue(label, "", f"is not valid YAML: {getattr(err, 'problem', None) or err}")]) from None
    if not isinstance(order, list) or not all(isinstance(n, str) for n in order):
        raise ConfigError([ConfigIssue(label, "", "must be a YAML list of role folder names")])
    return order


def project_roles(config_dir: Path) -> tuple[Role, ...]:
    """The project's roles, in its order; ConfigError naming the file for anything that is not right."""
    folder = config_dir / FOLDER
    if not folder.is_dir():
        return ()
    order = _order(folder)
    label = display_path(folder / ORDER)
    issues = []
    present = {p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))}
    issues += [ConfigIssue(display_path(folder / name), "", f"is not listed in {label}: add it, or remove the folder")
               for name in sorted(present - set(order))]
    issues += [ConfigIssue(label, name, f"has no folder {display_path(folder / name)} with an __init__.py")
               for name in order if not (folder / name / "__init__.py").is_file()]
    if issues:
        raise ConfigError(issues)
    package, shipped = _package(folder), {role.name for role in ROLES}
    keys = {key for role in ROLES for key in role.config}
    roles = []
    for name in order:
        where = display_path(folder / name / "__init__.py")
        try:
            module = importlib.import_module(f"{package}.{name}")
        except Exception as err:  # the project's own code: any failure is reported with its file
            raise ConfigError([ConfigIssue(where, "", f"cannot be imported: {type(err).__name__}: {err}")]) from None
        role = getattr(module, "ROLE", None)
        problem = ("does not define ROLE = Role(...)" if not isinstance(role, Role) else
                   f"ROLE.name is {role.name!r}: name the role after its folder ({name!r})" if role.name != name else
                   f"{name!r} is a role thorfleet ships: choose another name" if name in shipped else
                   f"its keys {sorted(set(role.config) & keys)} belong to another role" if set(role.config) & keys else "")
        if problem or not isinstance(role, Role):
            raise ConfigError([ConfigIssue(where, "", problem)])
        keys |= set(role.config)
        roles.append(role)
    return tuple(roles)
