"""Config of the power role: nvpmodel mode and persistent jetson_clocks."""

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from thorfleet.core.types import StrictModel


def _mode(value: int | str) -> int | str:
    if isinstance(value, str) and not value.replace("_", "").isalnum():
        raise ValueError(f"{value!r} is neither a mode id nor a mode name such as MAXN or 120W")
    return value


class PowerConfig(StrictModel):
    """Power mode and clocks (seed 002: `nvpmodel -m 0` + `jetson_clocks`)."""

    mode: Annotated[int | str, AfterValidator(_mode)] = Field(
        "MAXN", description="nvpmodel mode, by name as `nvpmodel -q` prints it (MAXN, 120W) or by id (0 is MAXN on Thor)."
    )
    clocks: Literal["locked", "default"] = Field(
        "locked", description="`locked` runs `jetson_clocks` at every boot; `default` restores the stored original clocks."
    )
    clocks_boot_delay: int = Field(
        60, ge=0, le=3600, description="Seconds after boot before jetson_clocks runs (jetson-stats uses 60)."
    )
    allow_reboot: bool = Field(
        False, description="May the deploy reboot a unit when nvpmodel asks for it? Otherwise it stops and says what to do."
    )
