"""thorfleet roles: one folder per role, each with its config model, operations and templates."""
