#!/usr/bin/env bash
# The CUDA toolkit proof of docs/hardware-validation.md ("From a freshly flashed board"), prepared here
# and run on a GPU machine that reaches nothing:
#
#   bash benchmarks/fresh_board/prepare.sh          # here, after `thorfleet lab up` (its mirrors hold the pinned sources)
#   bash .device/run_llama.sh; bash .device/run_whisper.sh   # there, as root, from the repository root, with .device and .whl
#
# It fills .device/ (ignored by git): these scripts, a fleet project whose only host is the machine
# itself (`@local`, the builds role only, CUDA for arch 90), the pinned sources as archives, and
# .whl/: pyinfra and its dependencies as wheels for Python 3.12 on x86-64.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=benchmarks/fresh_board
mirrors=${THORFLEET_CACHE:-.cache}/lab/git
rm -rf .device .whl && mkdir -p .device/fleet/sources .whl
cp -r "$here/bin" "$here"/*.sh .device/ && rm .device/prepare.sh
cp -r "$here/fleet/inventory" "$here/fleet/group_vars" .device/fleet/ && cp deploy.py .device/fleet/
llama_ref=$(.venv/bin/python -c 'from thorfleet.roles.builds.config import LlamaCppBuild as B; print(B().ref)')
whisper_ref=$(.venv/bin/python -c 'from thorfleet.roles.builds.config import WhisperCppBuild as B; print(B().ref)')
# llama.cpp without models/, docs/ and benches/ (test vocabularies, documentation): the transfer is capped at 64 MiB.
git -C "$mirrors/llama.cpp.git" archive --format=tar.gz "$llama_ref" -- . ':!models' ':!docs' ':!benches' > .device/fleet/sources/llama.cpp.tar.gz
git -C "$mirrors/whisper.cpp.git" archive --format=tar.gz "$whisper_ref" > .device/fleet/sources/whisper.cpp.tar.gz
platforms=(--platform manylinux_2_34_x86_64 --platform manylinux_2_31_x86_64 --platform manylinux_2_28_x86_64
           --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64
           --platform manylinux1_x86_64 --platform any)
.venv/bin/pip freeze | grep -i -E '^(pyinfra|distro|gevent|greenlet|zope|paramiko|bcrypt|cryptography|cffi|pycparser|invoke|pynacl|pydantic|annotated|typing-inspection|typeguard|types-paramiko)' \
    | xargs python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp "${platforms[@]}" -d .whl
du -sh .device .whl
