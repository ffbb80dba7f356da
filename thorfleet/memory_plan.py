"""`thorfleet hosts INVENTORY --memory`: the memory plan of every unit as a table, after asking the
hub once for what the controller does not know yet (each model's size and GGUF header)."""

from rich.table import Table

from thorfleet.fleet import Fleet
from thorfleet.roles.engines.memory import GiB, MiB, gib, host_plan
from thorfleet.roles.models.fleet import needed_models
from thorfleet.roles.models.hub import HubError
from thorfleet.roles.models.shapes import learn


def learn_models(fleet: Fleet) -> tuple[dict, list[str]]:
    """Facts of every model the fleet serves, by (host, model name); what the hub could not say."""
    facts, failures, asked = {}, [], {}
    for host in fleet.hosts.values():
        store = host.config.model_store
        for name, model in needed_models(host, fleet).items():
            key = model.model_dump_json() + store.model_dump_json()
            if key not in asked:
                try:
                    asked[key] = learn(model, store)
                except HubError as err:
                    asked[key] = None
                    failures.append(f"{name}: {err}")
            facts[host.name, name] = asked[key]
    return facts, failures


def plan_table(fleet: Fleet, facts: dict) -> tuple[Table, list[str]]:
    """The table, and the hosts whose engines do not fit."""
    table = Table(title=f"memory plan of {fleet.inventory}")
    for column in ("host", "engine", "context", "weights", "KV cache", "buffers", "prompt cache", "total"):
        table.add_column(column, justify="left" if column in ("host", "engine", "context") else "right")
    too_big = []
    for host in fleet.hosts.values():
        config = host.config
        plan = host_plan(config, lambda model: facts.get((host.name, _name_of(config, model))))
        for need in plan:
            c = need.context
            context = (f"{c.slots} × {c.per_slot}{' unified' if c.unified else ''}" if c else
                       "its share" if need.share is not None else "-" if need.known else "not known")
            table.add_row(host.name, need.name, context, size(need.share if need.share is not None else need.weights),
                          size(need.kv), size(need.compute), size(need.prompt_cache or None), size(need.total if need.known else None))
        total, room = sum(n.total for n in plan), config.memory.for_engines
        fits = total <= room
        if not fits:
            too_big.append(host.name)
        verdict = "[green]fits[/]" if fits else "[bold red]DOES NOT FIT[/]"
        table.add_row(host.name, verdict, f"in {gib(room)} GiB", "", "", "", "", f"[bold]{size(total)}[/]", end_section=True)
    return table, too_big


def size(n: int | None) -> str:
    if n is None:
        return "-"
    return f"{n / GiB:.1f} GiB" if n >= GiB else f"{n / MiB:.0f} MiB"


def _name_of(config, model) -> str:
    return next(name for name, m in config.models.items() if m is model)
