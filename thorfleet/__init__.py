"""thorfleet: provision NVIDIA Jetson AGX Thor units and serve LLMs on them, with pyinfra.

Layers, lowest first (a layer imports only from those below it; docs/architecture.md):
  thorfleet.core     value types, rendering, systemd quoting, failures, installs, secrets, paths on the unit
  thorfleet.roles    one package per role (config model, facts, operations, files, verify checks) and their registry
  thorfleet.config, .inventory, .deploy, .cli, .verify, .scaffold   the application: YAML to models, pyinfra, commands
  thorfleet.lab      the simulated Thor lab (the `lab` extra), used by tests and `thorfleet lab`
"""
