#!/usr/bin/env bash
# On the GPU machine (benchmarks/serving/prepare.sh says how it gets there), in calls that each fit
# in 10 minutes: `build` (llama.cpp with CUDA for arch 90 by the builds role), `bench`
# (benchmarks/serving/device_bench.py), `whisper` (whisper.cpp built the same way, then
# benchmarks/serving/device_whisper.py), `sweep a|b|c` (benchmarks/serving/device_sweep.py: thorfleet's
# defaults against llama.cpp's and an exhaustive sweep), `moe a|b|c` (benchmarks/serving/device_moe.py: issue 32's
# MoE shape), `tune` (benchmarks/serving/device_tune.py), `router` (benchmarks/serving/device_router.py: issue 31's router). Results in $OUT.
. .device/common.sh
case "${1:-}" in
build)
    s=$(date +%s); deploy inventory/serve.py deploy.py > "$OUT/build.log" 2>&1; rc=$?; e=$(date +%s)
    echo "== llama.cpp (with llama-quantize) by the builds role: exit $rc after $((e - s)) s"
    tail -4 "$OUT/build.log"; exit $rc ;;
bench)
    cd .device/fleet && PYTHONPATH="/tmp/site:$REPO" "$PY" "$REPO/benchmarks/serving/device_bench.py" \
        "$REPO/.device/ggml-vocab-qwen2.gguf" "$OUT" ;;
sweep)
    cd .device/fleet && PYTHONPATH="/tmp/site:$REPO" "$PY" "$REPO/benchmarks/serving/device_sweep.py" \
        "$REPO/.device/ggml-vocab-qwen2.gguf" "$OUT" "${2:?part a or b}" ;;
moe)
    cd .device/fleet && PYTHONPATH="/tmp/site:$REPO" "$PY" "$REPO/benchmarks/serving/device_moe.py" \
        "$REPO/.device/ggml-vocab-qwen2.gguf" "$OUT" "${2:?part a, b or c}" ;;
router)
    cd .device/fleet && PYTHONPATH="/tmp/site:$REPO" "$PY" "$REPO/benchmarks/serving/device_router.py" \
        "$REPO/.device/ggml-vocab-qwen2.gguf" "$OUT" "${2:-}" ;;
tune)
    cd .device/fleet && PYTHONPATH="/tmp/site:$REPO" "$PY" "$REPO/benchmarks/serving/device_tune.py" \
        "$REPO/.device/ggml-vocab-qwen2.gguf" "$OUT" ;;
whisper)
    s=$(date +%s); deploy inventory/asr.py deploy.py > "$OUT/whisper-build.log" 2>&1; rc=$?; e=$(date +%s)
    echo "== whisper.cpp by the builds role: exit $rc after $((e - s)) s"; [ $rc = 0 ] || { tail -20 "$OUT/whisper-build.log"; exit 1; }
    cd .device/fleet && PYTHONPATH="/tmp/site:$REPO" "$PY" "$REPO/benchmarks/serving/device_whisper.py" \
        "$REPO/.device/ggml-tiny-random.bin" "$OUT" ;;
*)
    echo "usage: bash .device/serving.sh build|bench|sweep a|b|c|moe a|b|c|tune|router|whisper" >&2; exit 2 ;;
esac
