#!/usr/bin/env bash
# On the GPU machine (benchmarks/serving/prepare.sh says how it gets there), in two calls that each
# fit in 10 minutes: `build` (llama.cpp with CUDA for arch 90 by the builds role) and `bench`
# (benchmarks/serving/device_bench.py). Results in $OUT.
. .device/common.sh
case "${1:-}" in
build)
    s=$(date +%s); deploy inventory/serve.py deploy.py > "$OUT/build.log" 2>&1; rc=$?; e=$(date +%s)
    echo "== llama.cpp (with llama-quantize) by the builds role: exit $rc after $((e - s)) s"
    tail -4 "$OUT/build.log"; exit $rc ;;
bench)
    cd .device/fleet && PYTHONPATH="/tmp/site:$REPO" "$PY" "$REPO/benchmarks/serving/device_bench.py" \
        "$REPO/.device/ggml-vocab-qwen2.gguf" "$OUT" ;;
*)
    echo "usage: bash .device/serving.sh build|bench" >&2; exit 2 ;;
esac
