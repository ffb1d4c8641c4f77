#!/bin/bash
# The colo-kvm demo, as far as the project has come: a pair of colods,
# one per host, driven with colo-xl.  Run it from a built tree (make demo).
# It cleans up after itself, also when interrupted.
set -u
B=${TOP_BUILDDIR:-$(cd "$(dirname "$0")/.." && pwd)}
COLOD=$B/colod XL=$B/colo-xl
D=$(mktemp -d /tmp/colo-demo.XXXXXX)

cleanup() {
	for h in hostA hostB; do
		[ -f "$D/$h/run/colod.pid" ] && kill "$(cat "$D/$h/run/colod.pid")" 2>/dev/null
	done
	sleep 0.2
	rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -t 1 ]; then B1=$'\033[1m' B0=$'\033[0m'; else B1= B0=; fi
say() { printf '\n%s== %s%s\n' "$B1" "$*" "$B0"; }
run() { local h=$1; shift; printf '%s$ colo-xl %s\n' "$h" "$*"; COLO_RUN_DIR=$D/$h/run "$XL" "$@"; }

for f in "$COLOD" "$XL"; do
	[ -x "$f" ] || { echo "demo: $f is missing; run make first" >&2; exit 1; }
done

say "Starting one colod per host (state in SQLite, control over ZeroMQ)"
for h in hostA hostB; do
	"$COLOD" --state-dir "$D/$h/state" --run-dir "$D/$h/run" \
		--log "file:$D/$h/colod.log" || exit 1
	echo "$h: colod pid $(cat "$D/$h/run/colod.pid"), state $D/$h/state"
done

say "Host facts"
run hostA info

say "Domains (none yet: VMs arrive with the dom-helper)"
run hostA list

say "COLO parameters, changed live on hostB, announced as an event"
COLO_RUN_DIR=$D/hostB/run "$XL" events -n 1 -w 5000 >"$D/events" 2>"$D/events.err" &
ev=$!
for _ in $(seq 100); do	# until the subscription is live
	grep -q following "$D/events.err" 2>/dev/null && break
	sleep 0.05
done
run hostB params checkpoint-interval=200 heartbeat-interval=50
wait "$ev"
echo "hostB event:"
cat "$D/events"

say "Asking for a domain that does not exist"
run hostA colo status web
echo "(exit status $?)"

say "A second colod on hostA's state directory is refused"
"$COLOD" --state-dir "$D/hostA/state" --run-dir "$D/hostA/run2"
echo "(exit status $?)"

say "The state database of hostB"
if command -v sqlite3 >/dev/null; then
	sqlite3 "$D/hostB/state/colod.db" \
		"SELECT 'schema version ' || user_version FROM pragma_user_version;
		 SELECT key || ' = ' || value FROM parameters;
		 SELECT 'event ' || name FROM event_log;"
fi

say "Stopping both colods"
for h in hostA hostB; do
	kill "$(cat "$D/$h/run/colod.pid")"
done
sleep 0.3
echo "done."
