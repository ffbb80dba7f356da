"""`thorfleet rollout`: the fleet changed canary first, then in batches, each drained at the gateway,
deployed, gated and put back (docs/rollout.md)."""
