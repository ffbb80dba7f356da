"""The models of each unit: every model its engines serve is in place and verified (sha256 stamps)."""

import json

from thorfleet.core.checks import ModelCase
from thorfleet.roles.models.fetch_model import STAMPS


def test_model_is_verified(model_case: ModelCase) -> None:
    """Once per model the unit's engines serve."""
    unit, _, model = model_case
    with unit.host.sudo():
        stamps = json.loads(unit.host.file(f"{unit.config.model_store.dest(model)}/{STAMPS}").content_string)
    assert stamps and (model.file is None or model.file in stamps)
