# Shared helpers for integration tests.  Source it; it sets up a private
# temporary directory and removes it, and every process started through
# it, on exit, also on failure.
set -u
: "${TOP_BUILDDIR:?run through tests/run-tests.sh or set TOP_BUILDDIR}"
: "${TOP_SRCDIR:=$TOP_BUILDDIR}"
COLOD=$TOP_BUILDDIR/colod
XL=$TOP_BUILDDIR/colo-xl
CTL_RAW=$TOP_BUILDDIR/tests/tools/ctl-raw
TMP=$(mktemp -d /tmp/colo-it.XXXXXX)
CHILD_PIDS=()

cleanup() {
	local rc=$? f
	for f in "$TMP"/*/run/colod.pid; do
		[ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
	done
	for f in "${CHILD_PIDS[@]}"; do
		kill -9 "$f" 2>/dev/null
	done
	wait 2>/dev/null
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
		for f in "$TMP"/*/colod.log; do
			[ -f "$f" ] || continue
			echo "---- $f"
			tail -n 30 "$f"
		done
	fi
	if [ -n "${COLO_TEST_KEEP:-}" ]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
step() { echo "== $*"; }

need_cmd() {
	command -v "$1" >/dev/null 2>&1 || skip "$1 is not installed (run scripts/install-deps.sh)"
}

# start_colod NAME [ARGS...]: a daemonized colod with its own state and
# run directories under $TMP/NAME; returns once it is ready.
start_colod() {
	local n=$1
	shift
	mkdir -p "$TMP/$n"
	"$COLOD" --state-dir "$TMP/$n/state" --run-dir "$TMP/$n/run" \
		--log "file:$TMP/$n/colod.log" --log-level debug "$@"
}

colod_pid() { cat "$TMP/$1/run/colod.pid"; }
xl() { local n=$1; shift; COLO_RUN_DIR=$TMP/$n/run "$XL" "$@"; }
db() { sqlite3 "$TMP/$1/state/colod.db" "$2"; }
ctl_ep() { echo "ipc://$TMP/$1/run/colod.ctl"; }

# expect_rc WANT CMD...: runs CMD, fails unless it exits WANT.  Output is
# kept in $OUT (stdout) and $ERR (stderr).
expect_rc() {
	local want=$1 rc
	shift
	OUT=$("$@" 2>"$TMP/stderr")
	rc=$?
	ERR=$(cat "$TMP/stderr")
	[ "$rc" -eq "$want" ] ||
		fail "'$*' exited $rc, wanted $want; stdout: $OUT; stderr: $ERR"
}

# dead PID: true once PID has exited.  A killed daemon is not our child,
# and where nobody reaps it, it lingers as a zombie: count that as dead.
dead() {
	local st
	st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 0
	[ -z "$st" ] || [ "$st" = Z ]
}

contains() {
	case $1 in
	*"$2"*) ;;
	*) fail "expected '$2' in: $1" ;;
	esac
}

# wait_for SECONDS CMD...: retries CMD every 50 ms.
wait_for() {
	local t=$1 i
	shift
	for ((i = 0; i < t * 20; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}

# seed_domain NODE NAME DOMID MODE: inserts a domain row, as colod would
# have after protecting a VM.  Used where no VM exists yet.
seed_domain() {
	db "$1" "INSERT INTO domains (name, domid, uuid, mem_mib, vcpus,
		run_state, colo_mode, migration_status)
		VALUES ('$2', $3, lower(hex(randomblob(16))), 256, 1,
		'running', '$4', CASE '$4' WHEN 'unknown' THEN 'none'
		ELSE 'colo' END)"
}
