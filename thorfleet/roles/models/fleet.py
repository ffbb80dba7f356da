"""What the models role tells the rest of the fleet: which models each unit needs (those its engines
serve), what the controller knows of each (the memory plan), and what a unit's copy of one is (the
engines' restart fingerprint)."""

import hashlib
from collections import defaultdict
from typing import Any

from pyinfra.api.exceptions import PyinfraError

from thorfleet.core.fleet import FactKey, FleetHost, FleetView, endpoints_of
from thorfleet.roles.models.controller_cache import cache_key
from thorfleet.roles.models.hub import HubError, model_files

# The units that need each set of model files (a cache key: one repository and revision, or one URL,
# whatever the models' names): what `model_store.fetch: auto` fans out is what two or more of them need.
MODEL_TAKERS: FactKey[dict[str, list[FleetHost]]] = FactKey("models.takers")


def needed_models(host: FleetHost, fleet: FleetView) -> dict[str, Any]:
    """The models this host's engines serve, by name: only these are downloaded here."""
    models = host.config.models
    return {e.model: models[e.model] for e in endpoints_of(fleet, host.name) if e.model is not None and e.model in models}


def takers(fleet: FleetView) -> dict[str, list[FleetHost]]:
    found: dict[str, list[FleetHost]] = defaultdict(list)
    for host in fleet.with_role("models"):
        for key in {cache_key(model) for model in needed_models(host, fleet).values()}:
            found[key].append(host)
    return dict(found)


class Catalogue:
    """Each model's file list, asked of the hub once per deploy (core/fleet.py, ModelCatalogue)."""

    def __init__(self) -> None:
        self._listed: dict[str, str] = {}

    def fingerprint(self, config: Any, model: str) -> str:
        entry, store = config.models[model], config.model_store
        asked = entry.model_dump_json() + store.model_dump_json()
        if asked not in self._listed:
            try:
                files = model_files(entry, store)
            except HubError as err:
                raise PyinfraError(f"models.{model}: {err}") from None
            self._listed[asked] = repr(sorted((f.path, f.sha256, f.size) for f in files))
        return hashlib.sha256((store.dest(entry) + self._listed[asked]).encode()).hexdigest()[:16]
