"""`thorfleet tune`: the llama-server flags that serve a stated workload best on one unit (docs/tuning.md)."""
