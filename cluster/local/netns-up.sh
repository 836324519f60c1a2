#!/bin/sh
# Build two "nodes" on this machine: network namespaces PREFIX1 and PREFIX2
# joined by a veth pair, with addresses NET.1 and NET.2 (a /24).
#
#   usage: netns-up.sh [PREFIX] [NET]      (defaults: dtnode 10.77.0)
#
# The blackhole route for the subnet goes into the root namespace first, so
# no packet aimed at these addresses can leave the machine, whatever state
# the namespaces are in. netns-down.sh removes everything again.
set -eu
PREFIX=${1:-dtnode}
NET=${2:-10.77.0}

ip route add blackhole "$NET.0/24"
ip netns add "${PREFIX}1"
ip netns add "${PREFIX}2"
ip link add "${PREFIX}1v" type veth peer name "${PREFIX}2v"
for n in 1 2; do
    ip link set "${PREFIX}${n}v" netns "${PREFIX}${n}"
    ip -n "${PREFIX}${n}" addr add "$NET.$n/24" dev "${PREFIX}${n}v"
    ip -n "${PREFIX}${n}" link set lo up
    ip -n "${PREFIX}${n}" link set "${PREFIX}${n}v" up
done
echo "nodes: ${PREFIX}1=$NET.1 ${PREFIX}2=$NET.2"
