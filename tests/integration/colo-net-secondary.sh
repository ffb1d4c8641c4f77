#!/bin/bash
# COLO networking when the secondary host dies: with two redis-cli
# clients running (one connection looping INCR, one connection per
# INCR), every process of hostB is SIGKILLed and its links taken down.
# The primary carries on alone, its netproxy goes to passthrough and
# releases what it held, and both clients carry on with no acknowledged
# increment lost.
. "$(dirname "$0")/colo-net-pair.sh"

step "kill the secondary host while two clients run"
kill_host_with_clients b passthrough
expect_rc 0 xl a colo status web
contains "$OUT" "last-mode              : primary"
