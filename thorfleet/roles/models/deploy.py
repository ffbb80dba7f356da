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
from thorfleet.core.render import RenderedFile
from thorfleet.roles.models.config import ModelStoreConfig
from thorfleet.roles.models.controller_cache import cache_key, ensure, serve
from thorfleet.roles.models.facts import FETCHER_SOURCE, ModelState
from thorfleet.roles.models.fleet import MODEL_TAKERS, needed_models
from thorfleet.roles.models.hub import HubError, model_files
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
    """What the unit's fetcher is given for one model. Coming through the controller (`via`), the
    controller's cache is filled only when the unit lacks a file: a fleet that holds its models asks
    the controller for nothing."""
    store, entry = config.model_store, config.models[name]
    key = via and cache_key(entry)
    try:
        listed = model_files(entry, store)
        wanted = [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in listed]
        held = host.get_fact(ModelState, dest=store.dest(entry), files=wanted)["files"].values() if key else []
        if key and not all(f["verified"] for f in held):
            ensure(entry, listed, via)
    except HubError as err:
        raise PyinfraError(f"models.{name}: {err}") from None
    return {
        "name": name, "dest": store.dest(entry), "source": entry.source, "id": entry.id, "revision": entry.revision,
        "url": entry.url, "mirror": key and f"{serve(via)}/{key}", "cli": CLI, "key": key,
        "incoming": f"{fanout_delivery(store).into}/{key}" if key and via.fetch != "controller" else None,
        "files": wanted,
    }


@deploy("models")
def apply(unit: FleetHost, fleet: FleetView) -> None:
    config = unit.config
    store, needed = config.model_store, needed_models(unit, fleet)
    if needed:
        via = {name: route(unit, fleet, entry) for name, entry in needed.items()}
        wanted = requirements(config, [entry for name, entry in needed.items() if via[name] is None])
        if wanted:
            hub_cli(name=f"Hub CLIs: {', '.join(wanted)}", requirements=wanted, index_url=config.base.pip_index_url, _sudo=True)
        files_installed(name="Model fetcher", files=[RenderedFile(FETCHER, FETCHER_SOURCE, mode="755", role="models")],
                        _sudo=True)
        specs = [model_spec(name, config, via[name]) for name in sorted(needed)]
        fanned = [spec for spec in specs if spec["incoming"]]
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
