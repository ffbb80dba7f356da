"""A corpus of malformed configurations, each with the error (file, key path, reason) it must give."""

from pathlib import Path

import pytest
import yaml

from thorfleet.fleet import ConfigError

from .helpers import fleet_of

CASES = yaml.safe_load((Path(__file__).parent.parent / "data" / "invalid_configs.yml").read_text())


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 20


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_malformed_config_gives_its_error(tmp_path, monkeypatch, case):
    monkeypatch.chdir(tmp_path)  # a secret {file: ...} is relative to where the command runs
    for name, value in case.get("env", {}).items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        fleet_of(tmp_path, case["files"], secrets=True)
    issues = caught.value.issues
    for expected in case["expect"]:
        matching = [
            i for i in issues
            if i.file.endswith(expected["file"]) and i.key_path == expected["key"] and expected["reason"] in i.reason
        ]
        assert matching, f"expected {expected} among:\n{caught.value.format()}"
        # A file that cannot be read applies to every host; everything else names the host.
        assert matching[0].hosts == (() if expected["key"] == "" else ("thor-01",))
    assert len(issues) == len(case["expect"]), caught.value.format()
