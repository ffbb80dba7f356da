# Restart an engine's unit and wait until it answers; fail as soon as it exits, with its own last lines.
# Arguments: UNIT URL TIMEOUT_S WHY (the line printed before the restart). Run by `sh -c` as root.
unit="$1.service" url="$2" timeout="$3"
echo "$4"
since=$(date +%s)
systemctl restart "$unit"
restarts=$(systemctl show -p NRestarts --value "$unit")
waited=0 why=""
while [ "$waited" -lt "$timeout" ]; do
    curl -fsS -o /dev/null "$url" && exit 0
    # An engine that exits is restarted by systemd (Restart=on-failure): "auto-restart" or a new
    # restart count says so at once, instead of after the whole timeout.
    state=$(systemctl show -p ActiveState -p SubState --value "$unit" | tr '\n' ' ')
    case " $state" in
        *" failed "* | *" auto-restart "*) why="exited after ${waited} s (now: ${state% })" ;;
    esac
    [ -n "$why" ] || [ "$(systemctl show -p NRestarts --value "$unit")" = "$restarts" ] ||
        why="exited after ${waited} s and was restarted"
    [ -n "$why" ] && break
    sleep 1
    waited=$((waited + 1))
done
# The engine's own output only (systemd's lines about the unit say just that it exited): its first
# error, which is usually the cause, and its last lines.
own=$(journalctl _SYSTEMD_UNIT="$unit" --since "@$since" --no-pager -o cat)
first=$(printf '%s\n' "$own" | grep -i -m 1 -E 'error|fail|fatal|invalid|unrecognized|unknown|no such|not found|denied' || true)
last=$(printf '%s\n' "$own" | tail -n 2 | tr '\n' ' ')
echo "thorfleet: $1 did not answer $url: ${why:-not within $timeout s}; its first error: ${first:-none}; its last lines: ${last:-none}" >&2
echo "$1: the journal since the restart:" >&2
journalctl -u "$unit" --since "@$since" -n 20 --no-pager -o cat >&2
exit 1
