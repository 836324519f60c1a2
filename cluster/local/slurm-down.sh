#!/bin/sh
# Stop the daemons started by slurm-up.sh DIR (by their recorded pids), and the job steps
# (slurmstepd and the tasks under it) that those daemons started: they would otherwise
# outlive slurmd as orphans when a job is still running, e.g. after an srun timed out.
#
#   usage: slurm-down.sh DIR
DIR=$(realpath -m "$1")
[ -f "$DIR/pids" ] || exit 0

descendants() {
    for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
        echo "$child"
        descendants "$child"
    done
}

steps=""
for pid in $(cat "$DIR/pids"); do steps="$steps $(descendants "$pid")"; done
# slurmstepd detaches from slurmd (its parent becomes init): find this cluster's by the
# SLURM_CONF in their environment, with the tasks under them
for pid in $(pgrep -x slurmstepd 2>/dev/null); do
    if tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | grep -qx "SLURM_CONF=$DIR/slurm.conf"; then
        steps="$steps $pid $(descendants "$pid")"
    fi
done
for pid in $steps $(cat "$DIR/pids"); do kill -TERM "$pid" 2>/dev/null; done
sleep 1
for pid in $steps $(cat "$DIR/pids"); do kill -KILL "$pid" 2>/dev/null; done
rm -f "$DIR/pids"
exit 0
