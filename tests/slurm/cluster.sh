#!/usr/bin/env bash
# A real single-node Slurm cluster on this machine, for the cluster tests.
#
#   tests/slurm/cluster.sh start   # prints the PIDs; state and logs in $STATE
#   tests/slurm/cluster.sh stop    # stops the daemons by PID, removes $STATE and the config
#
# Needs root and Debian's munge, slurmctld, slurmd and slurm-client. No systemd
# and no cgroups: processes are tracked through /proc. Two fake GPUs (character
# devices that behave like /dev/null) make Slurm schedule by GPU count for real.
# The config goes to /etc/slurm, where every client looks: the executor plugin's
# job steps drop SLURM_CONF before they call srun. An /etc/slurm/slurm.conf that
# this script did not write is never touched.
set -euo pipefail
STATE=${SLURM_TEST_STATE:-/tmp/study-slurm}
CONF_DIR=/etc/slurm
MARK="# written by tests/slurm/cluster.sh"
HOST=$(hostname -s)

start() {
    if [ -f "$CONF_DIR/slurm.conf" ] && ! grep -qF "$MARK" "$CONF_DIR/slurm.conf"; then
        echo "$CONF_DIR/slurm.conf belongs to another cluster; not touching it" >&2
        return 1
    fi
    if pgrep -x slurmctld >/dev/null || pgrep -x slurmd >/dev/null; then
        echo "a slurmctld or slurmd is already running; stop it first" >&2
        return 1
    fi
    rm -rf "$STATE"
    mkdir -p "$STATE"/ctld "$STATE"/spool "$STATE"/log /run/munge
    chown munge:munge /run/munge
    [ -f /etc/munge/munge.key ] || runuser -u munge -- mungekey --create
    for i in 0 1; do [ -c /dev/fakegpu$i ] || mknod /dev/fakegpu$i c 1 3; done
    local topology
    topology=$(slurmd -C | head -1 | sed -e 's/^NodeName=[^ ]* //' -e 's/ *$//')
    mkdir -p "$CONF_DIR"
    cat >"$CONF_DIR/slurm.conf" <<CONF
$MARK
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
# A node silent this long is down and its jobs are requeued (the node-loss test waits for it).
SlurmdTimeout=30
MinJobAge=300
MpiDefault=none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
GresTypes=gpu
NodeName=$HOST NodeAddr=127.0.0.1 $topology Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
    cat >"$CONF_DIR/gres.conf" <<CONF
$MARK
AutoDetect=off
Name=gpu File=/dev/fakegpu[0-1]
CONF
    # Started with standard input closed, daemons fail every task launch.
    pgrep -x munged >/dev/null || runuser -u munge -- munged </dev/null
    slurmctld </dev/null
    slurmd -N "$HOST" </dev/null
    for _ in $(seq 60); do
        if [ -f "$STATE/slurmd.pid" ] && sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
            echo "slurmctld $(cat "$STATE/slurmctld.pid") slurmd $(cat "$STATE/slurmd.pid")"
            return 0
        fi
        sleep 0.5
    done
    echo "Slurm did not come up; logs in $STATE/log:" >&2
    tail -n 20 "$STATE"/log/*.log >&2 || true
    return 1
}

stop() {
    local pids=()
    for daemon in slurmd slurmctld; do
        if [ -f "$STATE/$daemon.pid" ]; then
            pids+=("$(cat "$STATE/$daemon.pid")")
        fi
    done
    if [ ${#pids[@]} -gt 0 ]; then
        kill "${pids[@]}" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "${pids[@]}" 2>/dev/null || break
            sleep 0.2
        done
    fi
    rm -rf "$STATE"
    if grep -qsF "$MARK" "$CONF_DIR/slurm.conf"; then
        rm -f "$CONF_DIR/slurm.conf" "$CONF_DIR/gres.conf"
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
