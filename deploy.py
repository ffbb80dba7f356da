"""thorfleet's deploy: `pyinfra inventory/lab.py deploy.py`.

The inventory has already loaded and validated each host's configuration (group_vars,
host_vars) before pyinfra connects; this applies the roles that configuration names.
"""

from pyinfra import host

from thorfleet.deploy import apply_roles

apply_roles(host)
