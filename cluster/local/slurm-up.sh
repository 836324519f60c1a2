#!/bin/sh
# A two-node SLURM cluster on this machine, for tests and demos: slurmctld
# plus slurmd "n1" and "n2" (both on 127.0.0.1, one CPU each), no munge
# (auth/none), MPI through pmi2 (srun --mpi=pmi2 for MPICH).
#
#   usage: slurm-up.sh DIR [PORT_BASE]    (PORT_BASE default 6817; uses 3 ports)
#   then:  export SLURM_CONF=DIR/slurm.conf; srun -N2 -n2 --mpi=pmi2 python train.py
#   stop:  slurm-down.sh DIR
#
# Needs root and Debian's slurm-wlm (apt-get install slurm-wlm).
set -eu
DIR=$(realpath -m "$1")
BASE=${2:-6817}
HOST=$(hostname)
mkdir -p "$DIR/state" "$DIR/spool-n1" "$DIR/spool-n2"

cat > "$DIR/slurm.conf" <<CONF
ClusterName=disttorch
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$BASE
SlurmUser=root
SlurmdUser=root
AuthType=auth/none
CredType=cred/none
MpiDefault=pmi2
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool-%n
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd-%n.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd-%n.log
NodeName=n1 NodeHostname=$HOST NodeAddr=127.0.0.1 Port=$((BASE + 1)) CPUs=1 State=UNKNOWN
NodeName=n2 NodeHostname=$HOST NodeAddr=127.0.0.1 Port=$((BASE + 2)) CPUs=1 State=UNKNOWN
PartitionName=debug Nodes=n1,n2 Default=YES MaxTime=INFINITE State=UP
CONF

# Without SLURM_CONF the tools look the controller up in DNS.
export SLURM_CONF="$DIR/slurm.conf"
slurmctld -D -i > "$DIR/slurmctld.out" 2>&1 &
echo $! > "$DIR/pids"
for node in n1 n2; do
    slurmd -D -N "$node" > "$DIR/slurmd-$node.out" 2>&1 &
    echo $! >> "$DIR/pids"
done

# Ready when both nodes are idle.
tries=0
until [ "$(sinfo -h -N -t idle -o %N 2>/dev/null | sort -u | wc -l)" -ge 2 ]; do
    tries=$((tries + 1))
    if [ "$tries" -gt 100 ]; then
        echo "slurm-up.sh: nodes not idle after 20 s; see $DIR/*.log" >&2
        exit 1
    fi
    sleep 0.2
done
echo "SLURM_CONF=$SLURM_CONF"
