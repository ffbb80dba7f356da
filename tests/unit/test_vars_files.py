"""What lies in group_vars/ and host_vars/ is read, or said not to be: Ansible's `<name>/` folders are
merged in a documented order; links that lead nowhere, `.yml` beside `.yaml`, and files that are never
read are errors or warnings naming the file."""

import os

import pytest

from thorfleet.fleet import ConfigError

from .helpers import fleet_of, write_tree

MODELS = {"models": {"m": {"id": "Qwen/Qwen3-8B-GGUF", "file": "a.gguf"}}}
ENGINE = {"kind": "llama-server", "model": "m", "port": 8000}


@pytest.fixture(autouse=True)
def in_project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def file_warnings(fleet) -> list[str]:
    """Warnings about files and settings, without the memory plan's (no model is known in these tests)."""
    return [str(w) for w in fleet.warnings if "not in the memory plan" not in w.reason]


def refusal(tmp_path, files) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        fleet_of(tmp_path, files)
    return [str(issue) for issue in caught.value.issues]


def test_an_ansible_style_folder_is_merged_after_the_file_in_lexical_order(tmp_path):
    fleet = fleet_of(tmp_path, {
        "group_vars/all.yml": MODELS,
        "group_vars/llm.yml": {"engines": {"a": {**ENGINE, "args": {"parallel": 2}}}},
        "group_vars/llm/10-slots.yml": {"engines": {"a": {"args": {"parallel": 4}}}},
        "group_vars/llm/20-more/slots.yaml": {"engines": {"a": {"args": {"parallel": 6, "ubatch-size": 1024}}}},
        "host_vars/thor-01/port.yml": {"engines": {"a": {"port": 8100}}},
    })
    engine = fleet.hosts["thor-01"].config.engines["a"]
    assert engine.args == {"parallel": 6, "ubatch-size": 1024} and engine.port == 8100
    assert not file_warnings(fleet)


def test_a_folder_for_a_group_nobody_declares_is_an_error(tmp_path):
    assert refusal(tmp_path, {"group_vars/llms/engines.yml": {"engines": {}}}) == [
        "group_vars/llms: no inventory in inventory/ declares a group 'llms', so it applies to no host; did you mean 'llm'?"]


def test_yml_beside_yaml_for_one_group_is_an_error(tmp_path):
    assert refusal(tmp_path, {"group_vars/llm.yml": {}, "group_vars/llm.yaml": {}}) == [
        "group_vars/llm.yml: llm.yaml is also there: both would be read, in an order nobody chose; keep one"]


@pytest.mark.parametrize("target", ["missing.yml", "host_vars/thor-01.yml"])
def test_a_link_that_leads_nowhere_is_an_error(tmp_path, target):
    (tmp_path / "host_vars").mkdir()
    os.symlink(tmp_path / target, tmp_path / "host_vars" / "thor-01.yml")  # the second links to itself
    assert refusal(tmp_path, {}) == [
        "host_vars/thor-01.yml: is a link that leads nowhere (its target is missing, or links loop back): it cannot be read; "
        "fix the link or remove it"]


def test_a_file_that_is_not_yaml_is_a_warning(tmp_path):
    fleet = fleet_of(tmp_path, {"group_vars/all.yml": MODELS, "group_vars/llm/engines.json": "{}", "group_vars/.gitkeep": ""})
    assert file_warnings(fleet) == ["group_vars/llm/engines.json: is not read: only .yml and .yaml files are "
                                                "(llm applies without it)"]


def test_a_slot_context_beside_an_explicit_context_is_a_warning_saying_which_wins(tmp_path):
    fleet = fleet_of(tmp_path, {"group_vars/all.yml": MODELS, "group_vars/llm.yml": {
        "engines": {"a": {**ENGINE, "slot_context": 16384, "args": {"ctx-size": 32768}}}}})
    assert file_warnings(fleet) == [
        "group_vars/llm.yml: engines.a.slot_context: has no effect: args.ctx-size (32768) sets the whole context, which the "
        "slots share; remove one of the two (slot_context gives each slot its own)  [thor-01]"]
    write_tree(tmp_path, {"group_vars/llm.yml": {"engines": {"a": {**ENGINE, "args": {"ctx-size": 32768}}}}})
    assert not file_warnings(fleet_of(tmp_path, {}))
