#!/usr/bin/env bash
# A real single-node Slurm cluster on this machine, for the cluster tests.
#
#   tests/slurm/cluster.sh start   # writes $STATE/env (source it: SLURM_CONF) and prints it
#   tests/slurm/cluster.sh stop    # stops the daemons by PID and removes $STATE
#
# Needs root and Debian's munge, slurmctld, slurmd and slurm-client. No systemd
# and no cgroups: processes are tracked through /proc. Two fake GPUs (character
# devices that behave like /dev/null) make Slurm schedule by GPU count for real.
set -euo pipefail
STATE=${SLURM_TEST_STATE:-/tmp/study-slurm}
HOST=$(hostname -s)

start() {
    rm -rf "$STATE"
    mkdir -p "$STATE"/ctld "$STATE"/spool "$STATE"/log /run/munge
    chown munge:munge /run/munge
    [ -f /etc/munge/munge.key ] || runuser -u munge -- mungekey --create
    for i in 0 1; do [ -c /dev/fakegpu$i ] || mknod /dev/fakegpu$i c 1 3; done
    local topology
    topology=$(slurmd -C | head -1 | sed -e 's/^NodeName=[^ ]* //' -e 's/ *$//')
    cat >"$STATE/slurm.conf" <<CONF
ClusterName=study
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=bf_interval=5
ReturnToService=2
MinJobAge=300
MpiDefault=none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
GresTypes=gpu
NodeName=$HOST NodeAddr=127.0.0.1 $topology Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
    cat >"$STATE/gres.conf" <<CONF
AutoDetect=off
Name=gpu File=/dev/fakegpu[0-1]
CONF
    export SLURM_CONF=$STATE/slurm.conf
    echo "export SLURM_CONF=$SLURM_CONF" >"$STATE/env"
    # Started with standard input closed, daemons fail every task launch.
    pgrep -x munged >/dev/null || runuser -u munge -- munged </dev/null
    slurmctld </dev/null
    slurmd -N "$HOST" </dev/null
    for _ in $(seq 60); do
        if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
            cat "$STATE/env"
            return 0
        fi
        sleep 0.5
    done
    echo "Slurm did not come up; logs in $STATE/log:" >&2
    tail -n 20 "$STATE"/log/*.log >&2 || true
    return 1
}

stop() {
    for daemon in slurmd slurmctld; do
        if [ -f "$STATE/$daemon.pid" ]; then
            kill "$(cat "$STATE/$daemon.pid")" 2>/dev/null || true
        fi
    done
    sleep 1
    rm -rf "$STATE"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
