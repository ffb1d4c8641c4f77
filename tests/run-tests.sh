#!/bin/bash
# Runs colo-kvm's tests and prints one summary line: "N passed, N failed".
#
#   run-tests.sh [unit:BINARY] [asan:BINARY] [SCRIPT...]
#
# unit: and asan: name CUnit binaries; each CUnit test case counts once.
# Every script counts once; exit 77 means skipped (the reason is shown).
# Logs go to $TOP_BUILDDIR/tests/logs/.
set -u
: "${TOP_BUILDDIR:?set TOP_BUILDDIR}" "${TOP_SRCDIR:?set TOP_SRCDIR}"
export TOP_BUILDDIR TOP_SRCDIR
LOGDIR=$TOP_BUILDDIR/tests/logs
mkdir -p "$LOGDIR"
TEST_TIMEOUT=${TEST_TIMEOUT:-900}
passed=0 failed=0 skipped=0
failures=()

show_tail() {
	echo "---- last lines of $1 ----"
	tail -n 40 "$1"
	echo "----"
}

# CUnit prints "  tests  TOTAL  RAN  PASSED  FAILED  INACTIVE".
run_cunit() {
	local kind=$1 bin=$2 name log rc t0 row p f
	name=$kind-$(basename "$bin")
	log=$LOGDIR/$name.log
	t0=$SECONDS
	if [ "$kind" = asan ]; then
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
			timeout "$TEST_TIMEOUT" "$TOP_BUILDDIR/$bin" >"$log" 2>&1
	else
		timeout "$TEST_TIMEOUT" "$TOP_BUILDDIR/$bin" >"$log" 2>&1
	fi
	rc=$?
	row=$(awk '$1 == "tests" { print $4, $5 }' "$log" | tail -n 1)
	p=${row% *} f=${row#* }
	if [ -z "$row" ]; then
		p=0 f=1
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1	# crashed or a sanitizer fired after the run
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$f" -eq 0 ]; then
		printf 'PASS %-34s %3d cases  (%ds)\n' "$name" "$p" $((SECONDS - t0))
	else
		printf 'FAIL %-34s %3d passed, %d failed (exit %d)\n' "$name" "$p" "$f" "$rc"
		grep -E 'FAIL|ERROR|Sanitizer|runtime error' "$log" | head -n 20
		show_tail "$log"
		failures+=("$name")
	fi
}

run_script() {
	local script=$1 name log rc t0
	name=$(basename "$script" .sh)
	log=$LOGDIR/$name.log
	t0=$SECONDS
	timeout "$TEST_TIMEOUT" bash "$script" >"$log" 2>&1 </dev/null
	rc=$?
	case $rc in
	0)
		passed=$((passed + 1))
		printf 'PASS %-34s (%ds)\n' "$name" $((SECONDS - t0)) ;;
	77)
		skipped=$((skipped + 1))
		printf 'SKIP %-34s %s\n' "$name" "$(grep -m1 '^SKIP' "$log")" ;;
	*)
		failed=$((failed + 1))
		failures+=("$name")
		printf 'FAIL %-34s (exit %d, %ds)\n' "$name" "$rc" $((SECONDS - t0))
		show_tail "$log" ;;
	esac
}

for t in "$@"; do
	case $t in
	unit:*) run_cunit unit "${t#unit:}" ;;
	asan:*) run_cunit asan "${t#asan:}" ;;
	*) run_script "$t" ;;
	esac
done

if [ ${#failures[@]} -gt 0 ]; then
	echo "failed: ${failures[*]} (logs in $LOGDIR)"
fi
[ "$skipped" -eq 0 ] || echo "$skipped skipped"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
