"""Operations of the models role: the hub CLIs, each model fetched and verified, pruning."""

import json
import shlex
from io import StringIO
from typing import Any

from pyinfra.api.command import FileUploadCommand, FunctionCommand
from pyinfra.api.operation import operation
from pyinfra.context import host
from pyinfra.context import state as pyinfra_state

from thorfleet.core import closing_table, fanout
from thorfleet.core.failure import failure
from thorfleet.core.install import Commands
from thorfleet.core.will import will
from thorfleet.core.paths import HUB_VENV
from thorfleet.core.paths import MODEL_FETCHER as FETCHER
from thorfleet.core.paths import MODEL_SPECS as SPECS
from thorfleet.core.pip import pip_install_command
from thorfleet.roles.models import controller_cache
from thorfleet.roles.models.config import ModelStoreConfig
from thorfleet.roles.models.facts import ManagedModelFolders, ModelState, VenvPackages

CLI = {"modelscope": f"{HUB_VENV}/bin/modelscope", "hf": f"{HUB_VENV}/bin/hf"}


@operation()
def hub_cli(requirements: list[str], index_url: str | None = None) -> Commands:
    """The pinned hub CLIs (modelscope, huggingface_hub) in a virtual environment of their own."""
    installed = host.get_fact(VenvPackages, venv=HUB_VENV)
    wanted = dict(r.lower().replace("_", "-").split("==") for r in requirements)
    missing = [f"{name}=={version}" for name, version in wanted.items() if installed.get(name) != version]
    if not missing:
        host.noop(f"{', '.join(requirements)} installed in {HUB_VENV}")
        return
    will(f"install {', '.join(missing)} from the package index into {HUB_VENV}")
    yield f"test -x {HUB_VENV}/bin/pip || python3 -m venv {HUB_VENV}"
    yield pip_install_command(f"{HUB_VENV}/bin/pip", requirements, index_url)


def fanout_delivery(store: ModelStoreConfig) -> fanout.Delivery:
    """The models' fan-out: from the controller's cache into a folder under the model store (taking a file is a link)."""
    return fanout.Delivery("models", store.controller_cache, f"{store.root}/.thorfleet-incoming",
                           rest="the fetcher gets the rest over HTTP")


def gib(size: int) -> str:
    return f"{size / (1 << 30):.2f} GiB"


@operation()
def model(spec: dict[str, Any], env: dict[str, str]) -> Commands:
    """One model's files in place and verified: nothing runs when their stamps still hold."""
    name = spec["name"]
    state = host.get_fact(ModelState, dest=spec["dest"], files=spec["files"])
    pending = [f for f in spec["files"] if not state["files"][f["path"]]["verified"]]
    if not pending:
        host.noop(f"model {name}: {len(spec['files'])} files verified in {spec['dest']}")
        return
    need = sum(max((f["size"] or 0) - state["files"][f["path"]]["bytes"], 0) for f in pending)
    if need > state["free"]:
        yield failure(
            f"model {name} needs {gib(need)} more in {spec['dest']}, but only {gib(state['free'])} is free there; "
            "nothing was downloaded. Free space, or point models." + name + ".dest or model_store.root elsewhere"
        )
        return
    closing_table.model_planned(pyinfra_state, host.name, spec, pending, controller_cache.uplink_bytes)
    sizes_known = all(f["size"] is not None for f in pending)
    how = "place (from the fan-out, else the controller's cache)" if spec.get("incoming") else "download"
    will(f"{how} {gib(need) if sizes_known else 'an unknown size'} of model {name} ({len(pending)} of {len(spec['files'])} "
         f"files to fetch or finish)")
    spec_file = f"{SPECS}/{name}.json"
    yield f"mkdir -p {SPECS}"
    yield FileUploadCommand(StringIO(json.dumps(spec, indent=1)), spec_file,
                            remote_temp_filename=host.get_temp_filename(spec_file))
    assignments = "".join(f"{k}={shlex.quote(v)} " for k, v in sorted(env.items()))
    yield f"{assignments}python3 {FETCHER} {shlex.quote(spec_file)}"


@operation()
def fan_out(specs: list[dict[str, Any]], store: ModelStoreConfig, address: str) -> Commands:
    """The files this unit lacks, received with every other unit's in one multicast session from the
    controller (core/fanout.py); the unit declines when it lacks nothing, or has no room for what it lacks
    (each model's own operation then says so)."""
    lacking, need, free = [], 0, None
    for spec in specs:
        state = host.get_fact(ModelState, dest=spec["dest"], files=spec["files"])
        free = state["free"] if free is None else min(free, state["free"])
        for f in spec["files"]:
            if not state["files"][f["path"]]["verified"]:
                lacking.append(f"{spec['key']}/{f['path']}")
                need += max((f["size"] or 0) - state["files"][f["path"]]["bytes"], 0)
    if not lacking or need > (free or 0):
        fanout.decline(pyinfra_state, "models", host.name)
        host.noop(f"all {sum(len(s['files']) for s in specs)} model files verified: nothing to receive" if not lacking
                  else "not enough room for the fan-out: each model's operation below says how much it needs")
        return
    unique = sorted(set(lacking))
    will(f"receive {len(unique)} model files ({gib(need)}) in the fleet's multicast session from the controller")
    yield FunctionCommand(fanout.receive, (store, fanout_delivery(store), address, unique), {})


@operation()
def prune(root: str, keep: list[str]) -> Commands:
    """Delete model folders thorfleet filled under the store that no configured model uses any more."""
    stale = [d for d in host.get_fact(ManagedModelFolders, root=root) if d not in keep]
    if not stale:
        host.noop(f"no unused model folders under {root}")
        return
    yield f"rm -rf {' '.join(shlex.quote(d) for d in stale)}"
