"""The simulated Thor lab (`thorfleet lab up`, docs/lab.md), with the groups of inventory/lab.py.

    thorfleet lab up && pyinfra inventory/sim.py deploy.py

The same deploy and the same group_vars as a real lab; group_vars/sim.yml holds the only
differences (CPU builds, the lab's mirrors, endpoints and images). Units are sim-01 … sim-03 at
fixed lab addresses; SSH uses the lab's own key and checks each unit's host key.
"""

from thorfleet.inventory import attach_config
from thorfleet.lab.inventory import unit_data

llama = [("sim-01", unit_data("sim-01")), ("sim-02", unit_data("sim-02"))]
coder = ["sim-02"]
asr = ["sim-01"]
router = ["sim-01"]
containers = [("sim-03", unit_data("sim-03"))]
gateway = ["sim-03"]

attach_config(globals())
