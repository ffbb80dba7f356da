"""thorfleet: provision NVIDIA Jetson AGX Thor units and serve LLMs on them, with pyinfra.

Layers, lowest first (a layer imports only from those below it; docs/architecture.md):
  thorfleet.core      value types, the Role contract, the fleet view's types, rendering, ssh, waiting, installs
  thorfleet.roles     one package per role (config, facts, operations, files, verify checks, fleet hook); the registry
  thorfleet.fleet     YAML to validated models, the inventory hook, the project's own roles, the fleet view
  the application     deploy, host_files, verify, bench, tune, rollout, endpoints, status, memory_plan, docs, init_project
  thorfleet.commands  the `thorfleet` command, one module per command
  thorfleet.lab       the simulated Thor lab (the `lab` extra), used by tests and `thorfleet lab`
"""
