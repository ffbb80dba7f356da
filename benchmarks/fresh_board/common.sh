# Set-up shared by the two device runs: pyinfra's wheels, and the PATH a non-interactive SSH shell has.
set -u
REPO=$(pwd)
PY=$(command -v python3)
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
SAFE=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
cm=$(command -v cmake)
case ":$SAFE:" in *":$(dirname "$cm"):"*) ;; *) SAFE=$SAFE:$(dirname "$cm") ;; esac
PROOF_PATH=$REPO/.device/bin:$SAFE
deploy() {  # pyinfra as a user runs it, on this machine (@local), with that PATH and nothing else in the environment
    (cd "$REPO/.device/fleet" && env -i PATH="$PROOF_PATH" HOME=/root PYTHONPATH="/tmp/site:$REPO" "$PY" -m pyinfra -y "$@")
}
echo "== $(nvidia-smi -L)"
echo "== nvcc on the full PATH: $(command -v nvcc); cmake: $cm; python: $PY"
echo "== PATH for the deploy: $PROOF_PATH"
env -i PATH="$PROOF_PATH" sh -c 'command -v nvcc >/dev/null && echo "   nvcc IS on that PATH" || echo "   nvcc is not on that PATH"'
ls -ld /usr/local/cuda /usr/local/cuda/bin/nvcc
