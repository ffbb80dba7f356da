"""Marks for the roles' verify checks (each role's verify.py; `thorfleet verify` runs them).

A check takes `unit` (once per host that applies the role) or `case` (once per engine of such a
host, as (unit, engine name, engine)); `unit.host` is a testinfra host, `unit.config` the host's
validated configuration.
"""


def for_each_engine(where=lambda engine: True):
    """A check run once per engine for which `where(engine)` holds (every engine by default)."""
    def mark(function):
        function.engine_filter = where
        return function
    return mark
