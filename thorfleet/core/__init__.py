"""The bottom layer: what every role uses (value types, rendering, systemd quoting, failures, installs, secrets, pip, HTTP file sending, paths on the unit)."""
