#!/bin/sh
# Install every build and test dependency of colo-kvm with apt-get.
# Idempotent: packages already present are skipped, so a second run is a no-op.
set -eu

PKGS="
  build-essential autoconf automake libtool pkg-config git
  python3
  libzmq3-dev libsqlite3-dev sqlite3 libxml2-dev libxml2-utils libvirt-dev
  libnbd-dev libcunit1-dev libjansson-dev
  redis-tools libnbd-bin qemu-utils nbdkit iproute2 iputils-ping
  mandoc clang libclang-rt-14-dev
  procps psmisc util-linux kmod
"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "install-deps: all dependencies present"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: need root to install:$missing" >&2
	exit 1
fi

echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
