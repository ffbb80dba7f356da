"""The file the gateway role writes: HAProxy's configuration, rendered from the fleet's routes."""

import json

from thorfleet.core.fleet import CHAT, FleetHost, FleetView
from thorfleet.core.reach import host_port
from thorfleet.core.render import RenderedFile, render_template, shown_secret
from thorfleet.core.types import SecretReader, SecretSource
from thorfleet.roles.gateway.routes import KEY_RE, routes_at

CONFIG = "/etc/haproxy/haproxy.cfg"
SOCKET = "/run/haproxy/admin.sock"
STATE_FILE = "/var/lib/haproxy/server-state"


def _key(source: SecretSource | None, read: SecretReader) -> str:
    if source is None:
        return ""
    value = str(read(source))
    if read is not shown_secret and not KEY_RE.match(value):
        raise ValueError(f"the key in {source.describe()} has characters HAProxy would need quoted: use letters, digits and ._~+/=-")
    return value


def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def haproxy_cfg(unit: FleetHost, fleet: FleetView, read: SecretReader = SecretSource.read) -> str:
    """haproxy.cfg for this gateway; `read` gives each key (the deploy reads them, `render` shows where from)."""
    config, routes = unit.config, routes_at(fleet, unit.name)
    models = {r.model: {"id": r.model, "object": "model", "owned_by": "thorfleet"} for r in routes if r.serves == CHAT and r.reachable}
    return render_template(
        "roles/gateway/haproxy.cfg.j2",
        gateway=config.gateway,
        listen=host_port(config.gateway.bind, config.gateway.port),
        metrics_listen=host_port(config.gateway.bind, config.gateway.metrics_port),
        socket=SOCKET,
        state_file=STATE_FILE,
        routes=routes,
        client_keys=[_key(source, read) for source in config.gateway.client_keys],
        keys={r.backend: _key(r.key, read) for r in routes},
        models_json=_json({"object": "list", "data": list(models.values())}),
        model_json={model: _json(entry) for model, entry in models.items()},
    )


def rendered_files(unit: FleetHost, fleet: FleetView) -> list[RenderedFile]:
    return [RenderedFile(CONFIG, haproxy_cfg(unit, fleet, shown_secret), mode="640", role="gateway")]
