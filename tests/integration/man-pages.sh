#!/bin/bash
# The manual pages: lint-clean, and colo-xl.1 documents exactly the
# commands colo-xl has, with the synopsis "colo-xl help CMD" prints.
. "$(dirname "$0")/lib.sh"
need_cmd mandoc
MAN=$TOP_SRCDIR/man
PAGES=("$MAN"/*.[1-8] "$TOP_BUILDDIR/gen/colo-protocol.7")

step "mandoc -Tlint"
out=$(mandoc -Tlint -W warning "${PAGES[@]}" 2>&1)
[ -z "$out" ] || fail "mandoc -Tlint:
$out"

step "every command is documented, with the same synopsis"
rendered=$(mandoc -Tascii "$MAN/colo-xl.1" | col -b)
commands=$("$XL" help | awk '/Commands:$/ { on = 1; next } /^Global/ { on = 0 }
	on && /^  [a-z]/ { sub(/^  /, ""); split($0, w, /  +/); print w[1] }')
[ -n "$commands" ] || fail "colo-xl help lists no commands"
n=0
while read -r cmd; do
	# shellcheck disable=SC2086
	usage=$("$XL" help $cmd | sed -n 's/^Usage: colo-xl //p')
	[ -n "$usage" ] || fail "no usage line for '$cmd'"
	echo "$rendered" | grep -qxF "     $usage" ||
		fail "colo-xl.1 lacks the item line '$usage'"
	n=$((n + 1))
done <<<"$commands"
echo "   $n commands match"

step "every documented command exists"
documented=$(awk '/^\.Sh COMMANDS/ { on = 1; next } /^\.Sh / { on = 0 }
	on && /^\.It Cm / { sub(/^\.It Cm /, ""); sub(/ (Ar|Oo|Op|Fl) .*$/, "");
	print }' "$MAN/colo-xl.1")
[ -n "$documented" ] || fail "no commands found in colo-xl.1"
while read -r cmd; do
	echo "$commands" | grep -qxF "$cmd" ||
		fail "colo-xl.1 documents '$cmd', which colo-xl does not have"
done <<<"$documented"

step "the protocol page lists every command and event of the schema"
proto=$(mandoc -Tascii "$TOP_BUILDDIR/gen/colo-protocol.7" | col -b)
for name in $(grep -oE "'(command|event)': '[^']+'" "$TOP_SRCDIR/schema/colo.json" |
	sed -E "s/.*: '([^']+)'/\1/"); do
	echo "$proto" | grep -q "^   $name\$" || fail "colo-protocol.7 lacks $name"
done
echo ok
