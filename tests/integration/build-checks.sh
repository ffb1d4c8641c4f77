#!/bin/bash
# The build's own guards: configure names the Debian package of each
# missing library, and the schema generator refuses an undocumented item.
. "$(dirname "$0")/lib.sh"
[ -x "$TOP_SRCDIR/configure" ] || skip "no generated configure (run ./autogen.sh)"
: "${PYTHON:=python3}"

# A copy of the configure script with just what it reads before the
# library checks, so that it runs apart from the configured tree.
mkdir -p "$TMP/src/toolstack" "$TMP/src/m4"
cp "$TOP_SRCDIR/configure" "$TMP/src/"
cp -r "$TOP_SRCDIR/build-aux" "$TMP/src/"
touch "$TMP/src/toolstack/colod.c"

# A pkg-config that answers like the real one, except that MODULE is absent.
fake_pkg_config() {
	cat >"$TMP/pkg-config" <<EOS
#!/bin/sh
for a in "\$@"; do
	case "\$a" in $1*) exit 1 ;; esac
done
exec pkg-config "\$@"
EOS
	chmod +x "$TMP/pkg-config"
}

step "configure without each library names its Debian package"
while read -r module package; do
	fake_pkg_config "$module"
	(cd "$TMP/src" && PKG_CONFIG=$TMP/pkg-config PYTHON=$PYTHON \
		./configure >"$TMP/out" 2>&1) &&
		fail "configure succeeded without $module"
	grep -q "apt-get install $package" "$TMP/out" ||
		fail "configure without $module does not name $package:
$(tail -n 3 "$TMP/out")"
	echo "   $module -> $package"
done <<'EOS'
libzmq libzmq3-dev
sqlite3 libsqlite3-dev
libxml-2.0 libxml2-dev
libvirt libvirt-dev
libnbd libnbd-dev
cunit libcunit1-dev
jansson libjansson-dev
EOS

step "configure without pkg-config says so"
(cd "$TMP/src" && PKG_CONFIG=$TMP/no-such-pkg-config PYTHON=$PYTHON \
	./configure >"$TMP/out" 2>&1) && fail "configure ran without pkg-config"
grep -q "apt-get install pkg-config" "$TMP/out" ||
	fail "configure without pkg-config: $(tail -n 2 "$TMP/out")"

step "the schema generator refuses items without doc comments"
gen() { "$PYTHON" "$TOP_SRCDIR/schema/qapi-gen.py" -o "$TMP/gen" "$1"; }
gen "$TOP_SRCDIR/schema/colo.json" >/dev/null 2>&1 ||
	fail "the real schema does not generate"
# One member's line gone from its item's doc block.
grep -v '^# @ParseError:' "$TOP_SRCDIR/schema/colo.json" >"$TMP/member.json"
gen "$TMP/member.json" >/dev/null 2>"$TMP/err" &&
	fail "a member without documentation was accepted"
grep -q "lacks a doc comment (@ParseError:)" "$TMP/err" ||
	fail "unclear error: $(cat "$TMP/err")"
# A whole doc block gone, from its opening "##" to its closing one: the
# ErrorClass enum stands undocumented.
first=$(grep -n '^# @ErrorClass:' "$TOP_SRCDIR/schema/colo.json" | cut -d: -f1)
awk -v from=$((first - 1)) 'NR == from { skip = 1 }
	skip && NR > from && /^##$/ { skip = 0; next } !skip' \
	"$TOP_SRCDIR/schema/colo.json" >"$TMP/item.json"
grep -q "'enum': 'ErrorClass'" "$TMP/item.json" || fail "test schema lost the enum"
gen "$TMP/item.json" >/dev/null 2>"$TMP/err" &&
	fail "an item without a doc block was accepted"
grep -q "lacks a doc comment" "$TMP/err" || fail "unclear error: $(cat "$TMP/err")"
echo ok
