"""node exporter on each unit: running, listening where configured, refusing a scrape without the
password, and serving the Jetson collector's fresh readings."""

from thorfleet.core.checks import CheckedUnit
from thorfleet.core.http import basic, get
from thorfleet.core.paths import JETSON_METRICS_UNIT, TEXTFILE_DIR
from thorfleet.core.web_auth import USER
from thorfleet.roles.unit_metrics.files import SERVICE


def test_node_exporter_serves_only_with_the_password(unit: CheckedUnit) -> None:
    metrics = unit.config.unit_metrics
    if metrics.bind in ("127.0.0.1", "::1"):  # seen from the unit itself only
        assert "node_memory_MemTotal_bytes" in unit.host.check_output(f"curl -sf http://127.0.0.1:{metrics.port}/metrics")
        return
    address = unit.fleet_host.address if metrics.bind in ("0.0.0.0", "::") else metrics.bind
    url = f"http://{address}:{metrics.port}/metrics"
    password = metrics.password.read() if metrics.password else None
    status, body = get(url, basic(USER, password))
    assert status == 200 and "node_memory_MemTotal_bytes" in body, f"{url}: HTTP {status}"
    if password:
        assert get(url)[0] == 401, f"{url} answers without the password"


def test_node_exporter_is_enabled_and_running(unit: CheckedUnit) -> None:
    service = unit.host.service(SERVICE)
    assert service.is_enabled and service.is_running


def test_node_exporter_listens_where_configured(unit: CheckedUnit) -> None:
    metrics = unit.config.unit_metrics
    assert unit.host.socket(f"tcp://{metrics.bind}:{metrics.port}").is_listening


def test_the_jetson_collector_writes_fresh_readings(unit: CheckedUnit) -> None:
    assert unit.host.service(f"{JETSON_METRICS_UNIT}.timer").is_enabled
    text = unit.host.file(f"{TEXTFILE_DIR}/thorfleet_jetson.prom").content_string
    stamp = next(float(line.split()[-1]) for line in text.splitlines() if line.startswith("thorfleet_jetson_collected_timestamp_seconds"))
    now = float(unit.host.check_output("date +%s.%N"))
    assert now - stamp < 3 * unit.config.unit_metrics.interval_s + 10, f"last reading {now - stamp:.0f} s old"
    assert 'thorfleet_jetson_reading_ok{source="nvpmodel"} 1' in text
