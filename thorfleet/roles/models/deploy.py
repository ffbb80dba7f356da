"""The models role: each model the host's engines serve, fetched once, verified, resumable (seed 002)."""

from typing import Any

from pyinfra.api.deploy import deploy
from pyinfra.api.exceptions import PyinfraError
from pyinfra.context import state
from pyinfra.operations import files

from thorfleet.core import fanout
from thorfleet.core.fleet import FleetHost, FleetView
from thorfleet.core.install import files_installed
from thorfleet.core.paths import MODEL_FETCHER as FETCHER
from thorfleet.core.render import RenderedFile
from thorfleet.roles.models.config import ModelStoreConfig
from thorfleet.roles.models.controller_cache import ensure, serve
from thorfleet.roles.models.facts import FETCHER_SOURCE
from thorfleet.roles.models.fleet import needed_models
from thorfleet.roles.models.hub import HubError, model_files
from thorfleet.roles.models.operations import CLI, fan_out, fanout_delivery, hub_cli, model, prune


def requirements(config: Any, needed: dict[str, Any]) -> list[str]:
    """The hub CLIs the unit needs: none when the controller fetches for it, or for plain URLs."""
    store, sources = config.model_store, {m.source for m in needed.values()}
    if store.fetch != "unit":
        return []
    wanted = []
    if "modelscope" in sources:
        wanted.append(f"modelscope=={store.modelscope_version}")
    if "huggingface" in sources:
        wanted.append(f"huggingface_hub=={store.hf_version}")
    return wanted


def hub_env(store: ModelStoreConfig) -> dict[str, str]:
    env = {}
    if store.modelscope_endpoint:
        env["MODELSCOPE_ENDPOINT"] = store.modelscope_endpoint
    if store.hf_endpoint:
        env["HF_ENDPOINT"] = store.hf_endpoint
    return env


def model_spec(name: str, config: Any) -> dict[str, Any]:
    store, entry = config.model_store, config.models[name]
    try:
        listed = model_files(entry, store)
        key = ensure(entry, listed, store) if store.fetch != "unit" else None
    except HubError as err:
        raise PyinfraError(f"models.{name}: {err}") from None
    return {
        "name": name, "dest": store.dest(entry), "source": entry.source, "id": entry.id, "revision": entry.revision,
        "url": entry.url, "mirror": key and f"{serve(store)}/{key}", "cli": CLI, "key": key,
        "incoming": f"{fanout_delivery(store).into}/{key}" if store.fetch == "fleet" else None,
        "files": [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in listed],
    }


@deploy("models")
def apply(unit: FleetHost, fleet: FleetView) -> None:
    config = unit.config
    store, needed = config.model_store, needed_models(unit, fleet)
    if needed:
        wanted = requirements(config, needed)
        if wanted:
            hub_cli(name=f"Hub CLIs: {', '.join(wanted)}", requirements=wanted, index_url=config.base.pip_index_url, _sudo=True)
        files_installed(name="Model fetcher", files=[RenderedFile(FETCHER, FETCHER_SOURCE, mode="755", role="models")],
                        _sudo=True)
        specs = [model_spec(name, config) for name in sorted(needed)]
        if store.fetch == "fleet":
            fanout.prepare(state, "models", unit.name, store)
            fan_out(name="Models fanned out from the controller (multicast)", specs=specs, store=store,
                    address=unit.address, _sudo=True)
        for spec in specs:
            model(name=f"Model {spec['name']} ({len(spec['files'])} files)", spec=spec, env=hub_env(store), _sudo=True)
        if store.fetch == "fleet":
            files.directory(name="The fan-out's incoming folder cleared", path=fanout_delivery(store).into, present=False,
                            _sudo=True)
    if store.prune:
        prune(name=f"Prune unused models under {store.root}", root=store.root,
              keep=sorted({store.dest(m) for m in needed.values()}), _sudo=True)
