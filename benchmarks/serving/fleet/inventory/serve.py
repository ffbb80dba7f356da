"""The GPU machine itself (`@local`): llama.cpp built by the builds role, and the llama-server
command line the engines role renders for a Qwen3-8B-shaped model (docs/hardware-validation.md)."""

from thorfleet.inventory import attach_config

serve = ["@local"]

attach_config(globals())
