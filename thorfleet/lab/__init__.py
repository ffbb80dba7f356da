"""The simulated Thor lab: booted systemd units (systemd-nspawn) reachable over SSH on one Linux machine.

A stand-in for real Thor hardware, for developers, CI and newcomers. Nothing here runs against
a real Thor: the lab only brings units up for `inventory/sim.py`. See docs/lab.md.
"""
