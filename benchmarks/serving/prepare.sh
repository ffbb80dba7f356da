#!/usr/bin/env bash
# The serving proof of docs/hardware-validation.md ("thorfleet bench on a GPU"), prepared here and run
# on a GPU machine that reaches nothing:
#
#   bash benchmarks/serving/prepare.sh      # here, after `thorfleet lab up` (its mirrors and downloads)
#   bash .device/serving.sh build|bench|whisper   # there, from the repository root
#
# On top of benchmarks/fresh_board/prepare.sh (pinned llama.cpp source, pyinfra's wheels, a fleet
# whose only host is the machine itself), it adds the serving fleet files, Qwen2's vocabulary (the
# tokenizer the model generator copies) and the wheels of gguf and numpy.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash benchmarks/fresh_board/prepare.sh
rm -f .device/run_whisper.sh
cp benchmarks/serving/fleet/inventory/*.py .device/fleet/inventory/
cp benchmarks/serving/fleet/group_vars/*.yml .device/fleet/group_vars/
cp "${THORFLEET_CACHE:-.cache}/lab/models/thorfleet-lab/tiny-whisper-ggml/ggml-tiny-random.bin" .device/
cp benchmarks/serving/run.sh .device/serving.sh
tar -xzf "${THORFLEET_CACHE:-.cache}/downloads/sdists/llama_cpp_python-0.3.36.tar.gz" -O \
    llama_cpp_python-0.3.36/vendor/llama.cpp/models/ggml-vocab-qwen2.gguf > .device/ggml-vocab-qwen2.gguf
gguf_version=$(.venv/bin/pip show gguf | sed -n 's/^Version: //p')
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any -d .whl "gguf==$gguf_version" numpy==2.2.6 tqdm
du -sh .device .whl
