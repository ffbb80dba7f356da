"""This GPU machine itself, converged with the builds role only (docs/hardware-validation.md)."""

from thorfleet.inventory import attach_config

whisper = ["@local"]

attach_config(globals())
