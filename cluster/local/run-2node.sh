#!/bin/sh
# Run one 2-node job across the namespaces built by netns-up.sh: node 1's
# agent in PREFIX2 (background), the master in PREFIX1 (foreground).
#
#   usage: run-2node.sh [disttorch-run options] SCRIPT [ARGS...]
#   environment: PREFIX (dtnode), NET (10.77.0), PORT (29500),
#                DISTTORCH_RUN (disttorch-run), DISTTORCH_SECRET (generated)
#
# The exit status is the master's.
set -eu
PREFIX=${PREFIX:-dtnode}
NET=${NET:-10.77.0}
PORT=${PORT:-29500}
RUN=${DISTTORCH_RUN:-disttorch-run}
# Every node of a job must share the secret; the control plane refuses others.
DISTTORCH_SECRET=${DISTTORCH_SECRET:-$(python3 -c 'import secrets; print(secrets.token_hex(32))')}
export DISTTORCH_SECRET
# Both "nodes" are one machine, so MPICH (through UCX) would move data in
# shared memory; restricting UCX to TCP makes it cross the veth like a network.
export UCX_TLS=tcp,self

ip netns exec "${PREFIX}2" $RUN --nnodes 2 --node-rank 1 --master-addr "$NET.1" --master-port "$PORT" "$@" &
node1=$!
status=0
ip netns exec "${PREFIX}1" $RUN --nnodes 2 --node-rank 0 --master-addr "$NET.1" --master-port "$PORT" "$@" || status=$?
wait "$node1" || true
exit "$status"
