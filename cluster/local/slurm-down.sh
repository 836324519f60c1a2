#!/bin/sh
# Stop the daemons started by slurm-up.sh DIR (by their recorded pids).
#
#   usage: slurm-down.sh DIR
DIR=$(realpath -m "$1")
[ -f "$DIR/pids" ] || exit 0
for pid in $(cat "$DIR/pids"); do kill -TERM "$pid" 2>/dev/null; done
sleep 1
for pid in $(cat "$DIR/pids"); do kill -KILL "$pid" 2>/dev/null; done
rm -f "$DIR/pids"
exit 0
