#!/bin/bash
# The manual pages: lint-clean, and colo-xl.1 documents exactly the
# commands colo-xl has, with the synopsis "colo-xl help CMD" prints.
. "$(dirname "$0")/lib.sh"
need_cmd mandoc
MAN=$TOP_SRCDIR/man
PAGES=("$MAN"/*.[1-8] "$TOP_BUILDDIR/gen/colo-protocol.7")

step "mandoc -Tlint"
# Style messages count too; only those about what this host has installed
# (other pages, the whatis database) are left out.
out=$(mandoc -Tlint "${PAGES[@]}" 2>&1 |
	grep -v -e 'referenced manual not found' -e 'mandoc\.db' || true)
[ -z "$out" ] || fail "mandoc -Tlint:
$out"

step "every command is documented, with the same synopsis"
# Plain text without overstrikes; sed rather than col(1), which a minimal
# Debian lacks.
plain() { mandoc -Tascii "$1" | sed 's/.\x08//g'; }
rendered=$(plain "$MAN/colo-xl.1")
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
	# shellcheck disable=SC2086
	[ "$("$XL" $cmd --help)" = "$("$XL" help $cmd)" ] ||
		fail "'colo-xl $cmd --help' differs from 'colo-xl help $cmd'"
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
proto=$(plain "$TOP_BUILDDIR/gen/colo-protocol.7")
for name in $(grep -oE "'(command|event)': '[^']+'" "$TOP_SRCDIR/schema/colo.json" |
	sed -E "s/.*: '([^']+)'/\1/"); do
	echo "$proto" | grep -q "^   $name\$" || fail "colo-protocol.7 lacks $name"
done
echo ok
