# The test topology of DESIGN §12, in network namespaces this test makes
# and removes.  Source after lib.sh.
#
#   client (192.0.2.1) -- bridge in lan -- veth -- hostX: bridge br0 + tap
#   hostA <-> hostB: a direct veth, 198.51.100.1 / 198.51.100.2
#
# Names carry a per-test suffix so parallel or leftover runs never clash.
NS_SUFFIX=${NS_SUFFIX:-$$}
NS_CLIENT=client$NS_SUFFIX
NS_LAN=lan$NS_SUFFIX
NS_LIST=()

need_netns() {
	[ "$(id -u)" -eq 0 ] || skip "needs root for network namespaces"
	need_cmd ip
	ip netns add "probe$NS_SUFFIX" 2>/dev/null || skip "cannot create network namespaces"
	ip netns del "probe$NS_SUFFIX"
}

# Runs from the EXIT trap before lib.sh's cleanup, which reads $? as the
# test's verdict: keep it, or a failed test would exit 0.
ns_cleanup() {
	local rc=$? ns
	for ns in "${NS_LIST[@]}"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	return "$rc"
}

ns_add() {
	ip netns add "$1" || fail "ip netns add $1"
	NS_LIST+=("$1")
	ip -n "$1" link set lo up
}

# topo_lan: the client and the LAN bridge.
topo_lan() {
	ns_add "$NS_LAN"
	ns_add "$NS_CLIENT"
	ip -n "$NS_LAN" link add brlan type bridge
	ip -n "$NS_LAN" link set brlan up
	ip link add "vc$NS_SUFFIX" type veth peer name "vcl$NS_SUFFIX"
	ip link set "vc$NS_SUFFIX" netns "$NS_CLIENT"
	ip link set "vcl$NS_SUFFIX" netns "$NS_LAN"
	ip -n "$NS_CLIENT" link set "vc$NS_SUFFIX" name eth0
	ip -n "$NS_CLIENT" addr add 192.0.2.1/24 dev eth0
	ip -n "$NS_CLIENT" link set eth0 up
	ip -n "$NS_LAN" link set "vcl$NS_SUFFIX" master brlan up
}

# topo_host NS TAP: a host namespace on the LAN with a bridge holding a
# persistent tap, which netproxy attaches to (and which outlives it).
topo_host() {
	local ns=$1 tap=$2 v="v$1"
	ns_add "$ns"
	ip -n "$ns" link add br0 type bridge
	ip -n "$ns" link set br0 up
	ip -n "$ns" tuntap add "$tap" mode tap
	ip -n "$ns" link set "$tap" master br0 up
	ip link add "${v:0:14}" type veth peer name "l${v:0:13}"
	ip link set "${v:0:14}" netns "$ns"
	ip link set "l${v:0:13}" netns "$NS_LAN"
	ip -n "$ns" link set "${v:0:14}" master br0 up
	ip -n "$NS_LAN" link set "l${v:0:13}" master brlan up
}

in_client() { ip netns exec "$NS_CLIENT" "$@"; }

# topo_replication A B: the direct veth between two hosts, ra$NS_SUFFIX
# (198.51.100.1) in A and rb$NS_SUFFIX (198.51.100.2) in B.
topo_replication() {
	ip link add "ra$NS_SUFFIX" type veth peer name "rb$NS_SUFFIX"
	ip link set "ra$NS_SUFFIX" netns "$1"
	ip link set "rb$NS_SUFFIX" netns "$2"
	ip -n "$1" addr add 198.51.100.1/24 dev "ra$NS_SUFFIX"
	ip -n "$2" addr add 198.51.100.2/24 dev "rb$NS_SUFFIX"
	ip -n "$1" link set "ra$NS_SUFFIX" up
	ip -n "$2" link set "rb$NS_SUFFIX" up
}
