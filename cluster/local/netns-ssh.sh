#!/bin/sh
# An ssh stand-in for the namespace rig: `netns-ssh.sh [options] HOST COMMAND...`
# runs COMMAND in the network namespace that owns address HOST, as ssh would
# run it on that host. For `disttorch-run --hostfile ... --ssh netns-ssh.sh`
# (or `mpiexec -launcher-exec`) across the namespaces of netns-up.sh.
set -eu
while [ $# -gt 0 ] && [ "${1#-}" != "$1" ]; do shift; done
host=$1
shift
for ns in $(ip netns list | cut -d' ' -f1); do
    if ip -n "$ns" -o addr show | grep -q " inet $host/"; then
        # ip netns exec also remounts /sys, so UCX sees this namespace's interfaces.
        exec ip netns exec "$ns" sh -c "$*"
    fi
done
echo "netns-ssh.sh: no network namespace has the address $host" >&2
exit 255
