"""docs/configuration.md is generated from the models and must match them."""

from pathlib import Path

from thorfleet.docs import generate

ROOT = Path(__file__).resolve().parents[2]


def test_configuration_reference_is_up_to_date():
    assert (ROOT / "docs" / "configuration.md").read_text() == generate(), (
        "docs/configuration.md is out of date: run `python -m thorfleet.docs > docs/configuration.md`"
    )


def test_every_key_is_documented():
    text = generate()
    for key in ("power.mode", "docker.registry_mirrors", "builds.llama_cpp.cuda_architectures",
                "models.<name>.include", "engines.<name>.gpu_memory_utilization", "base.wifi.password"):
        assert f"`{key}`" in text
