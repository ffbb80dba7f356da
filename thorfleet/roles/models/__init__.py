"""The models role: each model the host's engines serve, fetched once, verified, resumable (seed 002)."""

from pydantic import Field

from thorfleet.core.fleet import MODEL_CATALOGUE, MODEL_FACTS
from thorfleet.core.role import Role
from thorfleet.core.types import Name
from thorfleet.roles.models.config import ModelConfig, ModelStoreConfig, listeners, shared_destinations
from thorfleet.roles.models.deploy import apply
from thorfleet.roles.models.fleet import MODEL_TAKERS, Catalogue, takers
from thorfleet.roles.models.shapes import known

ROLE = Role(
    name="models",
    config={
        "model_store": (ModelStoreConfig, Field(default_factory=ModelStoreConfig, description="Where and how models are stored.")),
        "models": (dict[Name, ModelConfig], Field(default_factory=dict, description="Models by name; engines refer to these names.")),
    },
    apply=apply,
    problems=shared_destinations,
    listeners=listeners,
    checks="thorfleet.roles.models.verify",
    fleet={MODEL_FACTS: lambda fleet: known, MODEL_CATALOGUE: lambda fleet: Catalogue(), MODEL_TAKERS: takers},
)
