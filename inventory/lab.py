"""A lab of three Jetson AGX Thor units, deployed as the seed blog posts do by hand.

An ordinary pyinfra inventory: each module-level list is a group. The YAML in group_vars/ and
host_vars/ is merged per host in this order (lowest first): all.yml, the groups below in the
order they are declared, `lab.yml` (the group pyinfra names after this file), then
host_vars/<host>.yml. Change the addresses and the login user to match your units.
"""

from thorfleet.inventory import attach_config

_login = {"ssh_user": "nvidia"}  # Thor's default account (passwordless sudo is needed)

# llama.cpp's llama-server (seed 000) on thor-01 and thor-02.
llama = [
    ("thor-01", {**_login, "ssh_hostname": "192.168.55.101"}),
    ("thor-02", {**_login, "ssh_hostname": "192.168.55.102"}),
]
# Declared after `llama`, so its group_vars win on thor-02: it swaps Qwen3-8B for the bigger models.
coder = ["thor-02"]
# whisper.cpp's whisper-server (seed 001).
asr = ["thor-01"]
# More models on thor-01, each loaded when asked for (llama-server's router mode, group_vars/router.yml).
router = ["thor-01"]
# vLLM and SGLang in NVIDIA's containers (seed 001).
containers = [("thor-03", {**_login, "ssh_hostname": "192.168.55.103"})]
# The fleet's gateway (HAProxy, docs/gateway.md): one endpoint routing each model to the units serving it.
# Any small Linux box will do; one that is not a Thor gets `roles: [base, gateway]` in its host_vars.
gateway = ["thor-03"]
# Optional: a pull-through mirror of Docker Hub that every unit's Docker asks first (docs/roles/image_mirror.md).
# image_mirror = ["thor-03"]

attach_config(globals())
