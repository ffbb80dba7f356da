"""Where thorfleet keeps things on a unit: one home for every path and name it owns there.

    /opt/thorfleet/        what it installs: builds, the hub CLIs' venv, the model fetcher
    /etc/thorfleet/        configuration: one environment file (and secret files) per engine
    /var/lib/thorfleet/    state: what each engine last started with, model specs, the original clocks
    /etc/systemd/system/thorfleet-*   its units
"""

OPT = "/opt/thorfleet"
ETC = "/etc/thorfleet"
STATE = "/var/lib/thorfleet"
SYSTEMD = "/etc/systemd/system"

# builds role (the default of builds.root)
BUILDS_ROOT = f"{OPT}/builds"

# models role
HUB_VENV = f"{OPT}/hub-cli"
MODEL_FETCHER = f"{OPT}/fetch_model.py"
MODEL_SPECS = f"{STATE}/models"
# (In each model folder, the fetcher's verification stamps: roles/models/fetch_model.py, STAMPS.)

# docker role: `docker save` archives received by the fleet's fan-out (core/fanout.py)
IMAGE_ARCHIVES_INCOMING = f"{STATE}/images/.thorfleet-incoming"

# engines role
ENGINE_CONFIG_DIR = f"{ETC}/engines"
ENGINE_STATE_DIR = f"{STATE}/engines"

# power role; the original clocks are those before thorfleet first locked them (`clocks: default` restores them)
CLOCKS_UNIT = "thorfleet-jetson-clocks"
ORIGINAL_CLOCKS = f"{STATE}/jetson_clocks.orig"


def unit_name(name: str) -> str:
    """The systemd unit (and container) name of a thorfleet service, e.g. an engine."""
    return f"thorfleet-{name}"


def unit_file(unit: str, suffix: str = "service") -> str:
    return f"{SYSTEMD}/{unit}.{suffix}"

# unit_metrics role: the Jetson collector (with the power role's parsers beside it) and its timer,
# writing into node exporter's textfile folder (Debian's own default folder).
JETSON_COLLECTOR_DIR = f"{OPT}/jetson-metrics"
JETSON_METRICS_UNIT = "thorfleet-jetson-metrics"
TEXTFILE_DIR = "/var/lib/prometheus/node-exporter"

# monitoring role: everything thorfleet renders for Prometheus lives in one folder, swapped whole
PROMETHEUS_DIR = "/etc/prometheus/thorfleet"

# revisions (thorfleet/revisions): what each deploy that changed the unit applied, the newest few
REVISIONS_DIR = f"{STATE}/revisions"
