# A rollout's stand-in of an engine: its unit file (read from standard input: the engine's own, with
# another port) written to /run (gone at the next boot); restart.sh then starts it and waits.
# Arguments: UNIT STAND_IN_PORT. Run by `sh -c` as root.
dst="/run/systemd/system/$1.service" spare="$2"
if [ ! -f "$dst" ] && ss -Hltn "sport = :$spare" | grep -q .; then
    echo "thorfleet: port $spare, where $1 would listen, is in use on the unit" >&2; exit 1
fi
mkdir -p /run/systemd/system && cat > "$dst.tmp" && mv "$dst.tmp" "$dst" && systemctl daemon-reload
