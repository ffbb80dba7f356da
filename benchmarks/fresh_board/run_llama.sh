. .device/common.sh
echo "== 1. the toolkit hidden: /usr/local/cuda moved away"
if mv /usr/local/cuda /usr/local/cuda.hidden-by-proof; then
    s=$(date +%s%N); deploy inventory/llama.py deploy.py; rc=$?; e=$(date +%s%N)
    mv /usr/local/cuda.hidden-by-proof /usr/local/cuda
    echo "== hidden: exit $rc after $(( (e - s) / 1000000 )) ms; builds present: $(ls /tmp/thorfleet-builds/llama.cpp/builds 2>/dev/null | wc -l)"
else
    echo "== /usr/local/cuda cannot be moved here"
fi
echo "== 2. llama.cpp with CUDA for arch 90, by the builds role"
s=$(date +%s); deploy inventory/llama.py deploy.py; rc=$?; e=$(date +%s)
echo "== llama.cpp: exit $rc after $((e - s)) s"
cp /tmp/thorfleet-builds/llama.cpp/logs/*.log "$OUT/llama-build.log" 2>/dev/null
b=/tmp/thorfleet-builds/llama.cpp/current/bin
"$b/llama-server" --version 2>&1 | tail -3
ldd "$b/llama-server" | grep -i -E "cuda|cublas"
echo "== 3. again: nothing to do"
deploy inventory/llama.py deploy.py 2>&1 | grep -E "is current|Grand total"
