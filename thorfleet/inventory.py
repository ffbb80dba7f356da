"""What an inventory file imports: it ends with `attach_config(globals())` (thorfleet/fleet/inventory.py
does the work: the configuration loaded, validated and the fleet view built before pyinfra connects)."""

from thorfleet.fleet.inventory import attach_config

__all__ = ["attach_config"]
