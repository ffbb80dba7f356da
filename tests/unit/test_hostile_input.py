"""Input made to hurt, or saved oddly: refused with one line (file, key, reason) and a bounded cost, or
read as meant; never a traceback."""

import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from thorfleet.fleet import ConfigError
from thorfleet.fleet.strict_yaml import MAX_VALUES

from .helpers import fleet_of, write_tree

THORFLEET = Path(sys.executable).parent / "thorfleet"
MODELS = {"models": {"m": {"id": "Qwen/Qwen3-8B-GGUF", "file": "a.gguf"}}}
MEMORY_LIMIT = 1 << 30  # address space of the validating process: far below what an expanded bomb takes


def validate_limited(root: Path) -> subprocess.CompletedProcess:
    """`thorfleet validate` of the project's inventory in a process that may not grow beyond MEMORY_LIMIT."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    return subprocess.run([str(THORFLEET), "validate", str(root / "inventory" / "fleet.py")], capture_output=True,
                          text=True, preexec_fn=limit, timeout=120)


def refused(root: Path, files: dict, **kwargs) -> str:
    with pytest.raises(ConfigError) as caught:
        fleet_of(root, files, **kwargs)
    return caught.value.format()


def billion_laughs(levels: int = 9) -> str:
    """Each level a list of nine aliases of the one before: 9**levels values once expanded."""
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"l{n}: &l{n} [{','.join([f'*l{n - 1}'] * 9)}]" for n in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_before_it_is_expanded_within_a_bounded_memory(tmp_path):
    fleet_of(tmp_path, {})  # writes the inventory
    write_tree(tmp_path, {"group_vars/all.yml": billion_laughs()})
    result = validate_limited(tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "group_vars/all.yml: is not valid YAML" in result.stdout + result.stderr
    assert re.search(rf"its aliases expand it to [0-9,]{{11,}} values, more than the {MAX_VALUES:,}", result.stderr), result.stderr
    assert "Traceback" not in result.stderr


def test_aliases_that_stay_small_are_read_as_usual(tmp_path):
    fleet = fleet_of(tmp_path, {"group_vars/all.yml": MODELS, "group_vars/llm.yml": "engines:\n  a: {kind: llama-server, model: m, "
                                "port: 8000, args: &args {parallel: 2}}\n  b: {kind: llama-server, model: m, port: 8001, args: *args}\n"})
    assert fleet.hosts["thor-01"].config.engines["b"].args == {"parallel": 2}


def test_a_file_over_the_size_limit_is_refused_unparsed(tmp_path):
    fleet_of(tmp_path, {})
    write_tree(tmp_path, {"group_vars/all.yml": "# padding\n" * 220_000})  # 2.1 MiB
    result = validate_limited(tmp_path)
    assert result.returncode == 2 and "group_vars/all.yml: is 2.1 MiB: a configuration file may hold at most 1 MiB" in result.stderr


def test_nesting_that_would_exhaust_the_recursion_is_refused(tmp_path):
    error = refused(tmp_path, {"group_vars/all.yml": "a: " + "[" * 5_000 + "]" * 5_000 + "\n"})
    assert "group_vars/all.yml: is nested too deeply to be a configuration" in error


def test_yaml_and_secret_files_saved_with_a_byte_order_mark_are_read_as_meant(tmp_path):
    write_tree(tmp_path, {"api-key": "\ufeffsk-bom-key\n"})
    fleet = fleet_of(tmp_path, {"group_vars/all.yml": "\ufeff" + "models: {m: {id: Qwen/Qwen3-8B-GGUF, file: a.gguf}}\n",
                                "host_vars/thor-01.yml": "\ufeffengines: {a: {kind: llama-server, model: m, port: 8000, "
                                                         "api_key: {file: " + str(tmp_path / "api-key") + "}}}\n"}, secrets=True)
    engine = fleet.hosts["thor-01"].config.engines["a"]
    assert engine.port == 8000 and engine.model == "m" and engine.api_key.read() == "sk-bom-key"


def test_an_inventory_with_a_byte_order_mark_is_refused_as_pyinfra_would_fail_on_it(tmp_path):
    fleet_of(tmp_path, {})
    inventory = tmp_path / "inventory" / "fleet.py"
    inventory.write_text("\ufeff" + inventory.read_text(), encoding="utf-8")
    result = subprocess.run([str(THORFLEET), "validate", str(inventory)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and f"{inventory}: starts with a byte-order mark, which pyinfra cannot read" in result.stderr


def test_a_secret_file_in_another_encoding_is_named_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "api-key").write_bytes("sk-wide\n".encode("utf-16"))
    error = refused(tmp_path, {"group_vars/all.yml": MODELS, "group_vars/llm.yml": {
        "engines": {"a": {"kind": "llama-server", "model": "m", "port": 8000, "api_key": {"file": "api-key"}}}}}, secrets=True)
    assert "group_vars/llm.yml: engines.a.api_key: file api-key is not UTF-8 text" in error and "sk-wide" not in error


@pytest.mark.parametrize("source, reason", [
    ("llm = [('thor-01'\n", "is not valid Python: line 1"),
    ("llm = [hosts_from_somewhere()]\n", "failed to run: NameError: name 'hosts_from_somewhere' is not defined"),
])
def test_an_inventory_that_does_not_run_is_one_line(tmp_path, source, reason):
    inventory = tmp_path / "inventory" / "fleet.py"
    write_tree(tmp_path, {"inventory/fleet.py": source})
    result = subprocess.run([str(THORFLEET), "validate", str(inventory)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and f"{inventory}: {reason}" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def inventory_refusal(tmp_path: Path, source: str) -> str:
    write_tree(tmp_path, {"inventory/fleet.py": "from thorfleet.inventory import attach_config\n" + source + "attach_config(globals())\n"})
    from thorfleet.fleet import load_fleet
    with pytest.raises(ConfigError) as caught:
        load_fleet(tmp_path / "inventory" / "fleet.py")
    return caught.value.format()


def test_a_host_listed_twice_in_a_group_is_refused_with_its_lines(tmp_path):
    error = inventory_refusal(tmp_path, "llm = [\n    ('thor-01', {'ssh_hostname': '127.0.0.1'}),\n    'thor-01',\n]\n")
    assert "fleet.py: llm: lists 'thor-01' twice (lines 3, 4): list each host once" in error


def test_two_connections_for_one_host_are_refused(tmp_path):
    error = inventory_refusal(tmp_path, "llm = [('thor-01', {'ssh_hostname': '127.0.0.1'})]\n"
                                        "asr = [('thor-01', {'ssh_hostname': '127.0.0.2'})]\n")
    assert "fleet.py: asr: gives 'thor-01' other connection data than group 'llm' (lines 2, 3)" in error


def test_two_names_for_one_machine_are_refused(tmp_path):
    error = inventory_refusal(tmp_path, "llm = [('thor-01', {'ssh_hostname': '127.0.0.1'}),\n"
                                        "       ('thor-02', {'ssh_hostname': '127.0.0.1', 'ssh_port': 22})]\n")
    assert "fleet.py: 'thor-01' and 'thor-02' are one machine, 127.0.0.1:22 (lines 2, 3)" in error


def test_a_host_in_several_groups_with_its_data_given_once_is_one_host(tmp_path):
    write_tree(tmp_path, {"inventory/fleet.py": "from thorfleet.inventory import attach_config\n"
                                                "llm = [('thor-01', {'ssh_hostname': '127.0.0.1'}), ('thor-02', {'ssh_hostname': '127.0.0.2'})]\n"
                                                "asr = ['thor-01']\ngateway = [('thor-02', {'ssh_hostname': '127.0.0.2'})]\n"
                                                "attach_config(globals())\n"})
    from thorfleet.fleet import load_fleet
    fleet = load_fleet(tmp_path / "inventory" / "fleet.py")
    assert fleet.hosts["thor-01"].groups[:2] == ("llm", "asr") and fleet.hosts["thor-01"].connection == {"ssh_hostname": "127.0.0.1"}
