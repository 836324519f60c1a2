#!/bin/sh
# Remove what netns-up.sh built (safe to run on a partial setup).
#
#   usage: netns-down.sh [PREFIX] [NET]    (defaults: dtnode 10.77.0)
PREFIX=${1:-dtnode}
NET=${2:-10.77.0}

for n in 1 2; do
    # Processes still inside would keep the namespace's network alive.
    for pid in $(ip netns pids "${PREFIX}${n}" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    ip netns del "${PREFIX}${n}" 2>/dev/null
done
# Deleting a namespace deletes its end of the veth, and with it the pair;
# the blackhole route goes last, once nothing can use the subnet.
ip route del blackhole "$NET.0/24" 2>/dev/null
exit 0
