"""Marks for the roles' verify checks (each role's verify.py; `thorfleet verify` runs them).

A check takes `unit` (once per host that applies the role), `case` (once per engine of such a host,
as (unit, engine name, engine)), `build_case` (once per build its engines run) or `model_case` (once
per model they serve); `unit.host` is a testinfra host, `unit.config` the host's validated
configuration, `unit.fleet` the fleet view, `unit.forward(address, port)` a local port reaching that
address and port as the unit sees them (core/ssh.py).
"""


def for_each_engine(where=lambda engine: True):
    """A check run once per engine for which `where(engine)` holds (every engine by default)."""
    def mark(function):
        function.engine_filter = where
        return function
    return mark


def for_each_routed_engine(function):
    """A check run once per engine that a gateway of the inventory routes to, with the engine's own
    unit (the gateway role's checks)."""
    function.engine_filter = lambda engine: True
    function.routed_only = True
    return function


def for_each_build(where=lambda build: True):
    """A check run once per build the host's engines run for which `where(build)` holds, as `build_case`
    = (unit, its key under builds, the build's config)."""
    def mark(function):
        function.build_filter = where
        return function
    return mark


def for_each_model(function):
    """A check run once per model the host's engines serve, as `model_case` = (unit, its name under
    models, the model's config)."""
    function.per_model = True
    return function
