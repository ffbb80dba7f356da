"""Revisions: each deploy that changes a unit leaves there a record of what it applied (a fingerprint
of the unit's rendered files, their sha256, and the project's configuration it came from), the newest
`KEEP`; `thorfleet rollout --undo` and a rollout's automatic rollback deploy an earlier one again
(docs/rollout.md, "Revisions")."""

KEEP = 5  # revisions kept on each unit, the newest first
