#!/usr/bin/env bash
# thorfleet on a fresh Linux machine, set-up included:
#   ./run.sh           the main job against the simulated Thor lab: lab up, deploy, verify (root)
#   ./run.sh test [ARGS]   the test suite (what CI runs): mypy, then pytest ARGS
set -euo pipefail
cd "$(dirname "$0")"

setup() {
    # systemd-analyze checks every rendered unit, haproxy -c the gateway's configuration, promtool the
    # monitoring host's (Debian's packages).
    if ! command -v systemd-analyze >/dev/null || ! command -v haproxy >/dev/null || ! command -v promtool >/dev/null; then
        apt-get update -qq && apt-get install -y -qq --no-install-recommends systemd haproxy prometheus >/dev/null
    fi
    [ -x .venv/bin/python ] || python3 -m venv .venv
    .venv/bin/pip install -q -e '.[test]'
}

setup
case "${1:-lab}" in
    test)
        shift
        # The type checker on core, roles and fleet (pyproject.toml, [tool.mypy]): strict, zero errors.
        .venv/bin/mypy
        exec .venv/bin/pytest "$@"
        ;;
    lab)
        # Each step says how long it took: the first run builds the image and compiles on the units.
        step() { local start=$SECONDS; "$@"; local status=$?; echo "run.sh: '$*' took $((SECONDS - start)) s"; return $status; }
        step .venv/bin/thorfleet lab up
        step .venv/bin/pyinfra -y inventory/sim.py deploy.py
        step .venv/bin/thorfleet verify inventory/sim.py
        ;;
    *)
        echo "usage: ./run.sh [lab | test [PYTEST ARGS]]" >&2
        exit 2
        ;;
esac
