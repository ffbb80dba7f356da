"""The models role: each model the host's engines serve, fetched once, verified, resumable (seed 002)."""

from typing import Any

from pyinfra.api.deploy import deploy
from pyinfra.api.exceptions import PyinfraError
from pyinfra.context import host, state
from pyinfra.operations import files

from thorfleet.core import fanout
from thorfleet.core.fleet import FleetHost, FleetView
from thorfleet.core.install import files_installed
from thorfleet.core.paths import MODEL_FETCHER as FETCHER
from thorfleet.core.pyinfra_cli import is_dry_run
from thorfleet.core.render import RenderedFile
from thorfleet.roles.models.config import ModelStoreConfig
from thorfleet.roles.models.controller_cache import cache_key, ensure, serve
from thorfleet.roles.models.facts import FETCHER_SOURCE, ModelStates
from thorfleet.roles.models.fleet import MODEL_TAKERS, needed_models
from thorfleet.roles.models.hub import HubError, HubFile, model_files
from thorfleet.roles.models.operations import CLI, fan_out, fanout_delivery, hub_cli, model, prune


def requirements(config: Any, downloaded: list[Any]) -> list[str]:
    """The hub CLIs the unit needs for the models it downloads itself (none for plain URLs)."""
    store, sources = config.model_store, {m.source for m in downloaded}
    wanted = []
    if "modelscope" in sources:
        wanted.append(f"modelscope=={store.modelscope_version}")
    if "huggingface" in sources:
        wanted.append(f"huggingface_hub=={store.hf_version}")
    return wanted


def route(unit: FleetHost, fleet: FleetView, entry: Any) -> Any:
    """How a model reaches the unit: None when the unit downloads it from the hub; otherwise the
    settings of the controller's cache it comes through (and, but for `fetch: controller`, the fan-out's)."""
    store = unit.config.model_store
    if store.fetch in ("unit", "controller"):
        return store if store.fetch == "controller" else None
    reached = {h.name for h in state.activated_hosts}
    takers = {h.name: h.address for h in fleet.fact(MODEL_TAKERS).get(cache_key(entry), []) if h.name in reached}
    return fanout.sender(state, store, takers)


def hub_env(store: ModelStoreConfig) -> dict[str, str]:
    env = {}
    if store.modelscope_endpoint:
        env["MODELSCOPE_ENDPOINT"] = store.modelscope_endpoint
    if store.hf_endpoint:
        env["HF_ENDPOINT"] = store.hf_endpoint
    return env


def model_spec(name: str, config: Any, via: Any) -> dict[str, Any]:
    """What the unit's fetcher is given for one model; `via`: the controller's settings it comes through, if any."""
    store, entry = config.model_store, config.models[name]
    key = via and cache_key(entry)
    try:
        listed = model_files(entry, store)
    except HubError as err:
        raise PyinfraError(f"models.{name}: {err}") from None
    return {
        "name": name, "dest": store.dest(entry), "source": entry.source, "id": entry.id, "revision": entry.revision,
        "url": entry.url, "mirror": key and f"{serve(via)}/{key}", "cli": CLI, "key": key,
        "incoming": f"{fanout_delivery(store).into}/{key}" if key and via.fetch != "controller" else None,
        "files": [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in listed],
    }


def lacking(specs: list[dict[str, Any]]) -> set[str]:
    """The models of which the unit lacks a verified file, read in one command."""
    held = host.get_fact(ModelStates, folders=[[s["dest"], s["files"]] for s in specs])
    return {s["name"] for s, found in zip(specs, held) if not all(f["verified"] for f in found["files"].values())}


def cache_filled(spec: dict[str, Any], entry: Any, via: Any) -> None:
    """The controller's cache holds the model's files (downloaded once for the fleet), but not for
    `thorfleet plan`: a plan changes nothing."""
    if is_dry_run():
        return
    try:
        ensure(entry, [HubFile(f["path"], f["size"], f["sha256"]) for f in spec["files"]], via)
    except HubError as err:
        raise PyinfraError(f"models.{spec['name']}: {err}") from None


@deploy("models")
def apply(unit: FleetHost, fleet: FleetView) -> None:
    config = unit.config
    store, needed = config.model_store, needed_models(unit, fleet)
    if needed:
        via = {name: route(unit, fleet, entry) for name, entry in needed.items()}
        specs = [model_spec(name, config, via[name]) for name in sorted(needed)]
        # Only what the unit lacks needs a hub CLI, the controller's cache or the fan-out: a unit that
        # holds its models gets none of them, and asks the controller for nothing.
        short = lacking(specs)
        for spec in specs:
            if spec["key"] and spec["name"] in short:
                cache_filled(spec, needed[spec["name"]], via[spec["name"]])
        wanted = requirements(config, [needed[name] for name in short if via[name] is None])
        if wanted:
            hub_cli(name=f"Hub CLIs: {', '.join(wanted)}", requirements=wanted, index_url=config.base.pip_index_url, _sudo=True)
        files_installed(name="Model fetcher", files=[RenderedFile(FETCHER, FETCHER_SOURCE, mode="755", role="models")],
                        _sudo=True)
        fanned = [spec for spec in specs if spec["incoming"] and spec["name"] in short]
        if fanned:
            sender = via[fanned[0]["name"]]
            fanout.prepare(state, "models", unit.name, sender)
            fan_out(name="Models fanned out from the controller (multicast)", specs=fanned, store=sender,
                    address=unit.address, _sudo=True)
        for spec in specs:
            model(name=f"Model {spec['name']} ({len(spec['files'])} files)", spec=spec, env=hub_env(store), _sudo=True)
        if fanned:
            files.directory(name="The fan-out's incoming folder cleared", path=fanout_delivery(store).into, present=False,
                            _sudo=True)
    if store.prune:
        prune(name=f"Prune unused models under {store.root}", root=store.root,
              keep=sorted({store.dest(m) for m in needed.values()}), _sudo=True)
