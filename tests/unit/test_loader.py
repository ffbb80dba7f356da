"""Precedence and merging of group_vars/host_vars."""

import pytest

from thorfleet.fleet import ConfigError
from thorfleet.fleet.loader import find_layers, merge_layers

from .helpers import load, write_tree

ENGINE = {"kind": "llama-server", "model": "m", "port": 8000}
MODELS = {"models": {"m": {"id": "Qwen/Qwen3-8B-GGUF", "file": "a.gguf"}}}


def test_precedence_all_then_groups_in_order_then_host(tmp_path):
    config = load(tmp_path, {
        "group_vars/all.yml": {"power": {"clocks_boot_delay": 1, "mode": "120W"}, "builds": {"keep": 3}},
        "group_vars/first.yml": {"power": {"clocks_boot_delay": 2}, "builds": {"keep": 4}},
        "group_vars/second.yml": {"power": {"clocks_boot_delay": 3}},
        "host_vars/thor-01.yml": {"builds": {"keep": 9}},
    }, groups=["first", "second"])
    assert config.power.clocks_boot_delay == 3  # the later group wins over the earlier one
    assert config.power.mode == "120W"  # untouched keys of all.yml survive (deep merge)
    assert config.builds.keep == 9  # host_vars win over every group


def test_group_order_is_the_inventory_order(tmp_path):
    files = {"group_vars/a.yml": {"power": {"clocks_boot_delay": 10}}, "group_vars/b.yml": {"power": {"clocks_boot_delay": 20}}}
    assert load(tmp_path, files, groups=["a", "b"]).power.clocks_boot_delay == 20
    assert load(tmp_path, files, groups=["b", "a"]).power.clocks_boot_delay == 10


def test_dicts_deep_merged_lists_replaced(tmp_path):
    config = load(tmp_path, {
        "group_vars/all.yml": {**MODELS, "engines": {"e": {**ENGINE, "args": {"threads": 4, "jinja": True}}},
                               "base": {"apt_packages": ["git", "curl"]}},
        "group_vars/g.yml": {"engines": {"e": {"args": {"threads": 8}}}, "base": {"apt_packages": ["cmake"]}},
    }, groups=["g"])
    assert config.engines["e"].args == {"threads": 8, "jinja": True}
    assert config.base.apt_packages == ["cmake"]


def test_null_removes_what_an_earlier_file_set(tmp_path):
    config = load(tmp_path, {
        "group_vars/all.yml": {**MODELS, "engines": {"e": {**ENGINE, "args": {"jinja": True}}, "f": {**ENGINE, "port": 8001}}},
        "host_vars/thor-01.yml": {"engines": {"f": None, "e": {"args": {"jinja": None}}}},
    })
    assert list(config.engines) == ["e"]
    assert config.engines["e"].args == {}


def test_yaml_extension_and_missing_files(tmp_path):
    write_tree(tmp_path, {"group_vars/all.yaml": {"power": {"clocks": "default"}}})
    layers = find_layers(tmp_path, ["nothing-here"], "thor-09")
    assert [layer.data for layer in layers] == [{"power": {"clocks": "default"}}]


def test_origin_names_the_file_that_set_a_key(tmp_path):
    write_tree(tmp_path, {
        "group_vars/all.yml": {"power": {"mode": "MAXN", "clocks": "locked"}},
        "host_vars/thor-01.yml": {"power": {"mode": 1}},
    })
    _, origin = merge_layers(find_layers(tmp_path, [], "thor-01"))
    assert origin[("power", "mode")].endswith("host_vars/thor-01.yml")
    assert origin[("power", "clocks")].endswith("group_vars/all.yml")


def test_several_errors_reported_together_with_their_files(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, {
            "group_vars/all.yml": {"power": {"clocks": "fast"}},
            "host_vars/thor-01.yml": {"builds": {"keep": 0}},
        })
    issues = {(i.file.split("/", 1)[-1] if "/" in i.file else i.file, i.key_path) for i in caught.value.issues}
    assert len(caught.value.issues) == 2
    assert any(f.endswith("all.yml") and k == "power.clocks" for f, k in issues)
    assert any(f.endswith("thor-01.yml") and k == "builds.keep" for f, k in issues)


def test_yaml_words_stay_words_where_the_engine_wants_them(tmp_path):
    """YAML 1.1 reads on/off/yes/no as booleans: `flash-attn: on` would become a bare --flash-attn."""
    config = load(tmp_path, {"group_vars/all.yml": "models:\n  m: {id: Qwen/Qwen3-8B-GGUF, file: a.gguf}\n"
                             "engines:\n  e:\n    kind: llama-server\n    model: m\n    port: 8000\n"
                             "    args: {flash-attn: on, cache-type-k: q8_0, no-warmup: true}\n"
                             "base:\n  jetson_stats: no\n"})
    assert config.engines["e"].args == {"flash-attn": "on", "cache-type-k": "q8_0", "no-warmup": True}
    assert config.base.jetson_stats is False  # a boolean setting still takes the word


def test_a_file_that_is_not_utf8_is_named(tmp_path):
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "all.yml").write_bytes("power:\n  mode: MAXN # caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, {})
    assert caught.value.issues[0].reason == "is not UTF-8 text (byte 25 is 0xe9): save it as UTF-8"
    assert caught.value.issues[0].file.endswith("group_vars/all.yml")
