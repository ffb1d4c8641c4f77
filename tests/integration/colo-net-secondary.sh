#!/bin/bash
# COLO networking when the secondary host dies: with two redis-cli
# clients running (one connection looping INCR, one connection per
# INCR), every process of hostB is SIGKILLed and its links taken down.
# The primary carries on alone, its netproxy goes to passthrough and
# releases what it held, and both clients carry on with no acknowledged
# increment lost.  Before that, B's helper delays every "loaded" phase
# by 60 ms, long enough for B's netproxy to reconnect to it before it
# hears of the load: the loaded SVM must still get exactly the input
# the PVM got.
export COLO_TEST_LOADED_DELAY_MS=60
. "$(dirname "$0")/colo-net-pair.sh"

step "UDP echo with the loaded phase delayed: no stale input reaches the SVM"
udp_echo_checkpoints 150 500

step "kill the secondary host while two clients run"
kill_host_with_clients b passthrough
expect_rc 0 xl a colo status web
contains "$OUT" "last-mode              : primary"
