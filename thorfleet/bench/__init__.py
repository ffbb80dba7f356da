"""`thorfleet bench`: seed 002's serving benchmarks (`vllm bench serve`'s definitions) for every engine
of a fleet, as tables, JSON and plots (docs/bench.md)."""
