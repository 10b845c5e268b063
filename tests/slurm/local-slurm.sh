#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for the tests marked `slurm`.
#
#   tests/slurm/local-slurm.sh start   # install if missing, start munged, slurmctld, slurmd
#   tests/slurm/local-slurm.sh stop    # cancel every job, stop the three daemons
#   tests/slurm/local-slurm.sh status  # sinfo and squeue
#
# For a root shell on Debian or Ubuntu without systemd (a CI machine, a
# container): the packages come from apt-get, the daemons are started by hand.
# The node is this machine with its real CPUs and memory (`slurmd -C`), in one
# default partition `debug`. There is no accounting database, so `sacct`
# knows no jobs: the Snakemake profile used with it needs
# `slurm-no-account: true` and `slurm-status-command: squeue`. MinJobAge keeps
# finished jobs visible to `squeue` and `scontrol show job` for an hour, long
# enough for the executor plugin to see every final state (TIMEOUT included)
# and for the tests to read back what each job asked for.
#
# slurm.conf is written to /etc/slurm/slurm.conf with a marker line; an
# existing slurm.conf without that marker (a real cluster's) is never
# touched: the script refuses to start.
set -euo pipefail

CONF=/etc/slurm/slurm.conf
MARKER="# written by janusfit tests/slurm/local-slurm.sh"
STATE=/var/lib/slurm/slurmctld
SPOOL=/var/lib/slurm/slurmd
LOGS=/var/log/slurm
PARTITION=debug
# Longest job the partition accepts; the slurm tests ask for minutes.
MAX_TIME=04:00:00

say() { echo "local-slurm: $*" >&2; }

alive() {  # alive PIDFILE: the process named in PIDFILE is running
    [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

install_packages() {
    local missing=()
    for cmd in munged slurmctld slurmd sbatch; do
        command -v "$cmd" >/dev/null || missing+=("$cmd")
    done
    [[ ${#missing[@]} -eq 0 ]] && return
    say "installing munge and SLURM (missing: ${missing[*]})"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
}

write_conf() {
    if [[ -f "$CONF" ]] && ! grep -qF "$MARKER" "$CONF"; then
        say "$CONF exists and was not written by this script; refusing to replace it"
        exit 1
    fi
    local host node
    host=$(hostname)
    # "NodeName=host CPUs=… Boards=… SocketsPerBoard=… CoresPerSocket=… ThreadsPerCore=… RealMemory=…"
    node=$(slurmd -C | head -n 1)
    mkdir -p /etc/slurm
    cat > "$CONF" <<EOF
$MARKER
ClusterName=janusfit
# The loopback address: a container's host name need not resolve.
SlurmctldHost=$host(127.0.0.1)
AuthType=auth/munge
SlurmUser=slurm
StateSaveLocation=$STATE
SlurmdSpoolDir=$SPOOL
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
MinJobAge=3600
# Seconds between SIGTERM and SIGKILL at a time limit (SLURM's default): the
# sampler writes its checkpoint in between.
KillWait=30
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=$MAX_TIME State=UP
EOF
}

start() {
    install_packages
    write_conf
    mkdir -p "$STATE" "$SPOOL" "$LOGS" /run/munge
    chown slurm:slurm "$STATE" "$SPOOL" "$LOGS"
    chown munge:munge /run/munge
    if [[ ! -s /etc/munge/munge.key ]]; then
        mungekey --create --keyfile=/etc/munge/munge.key
        chown munge:munge /etc/munge/munge.key
        chmod 600 /etc/munge/munge.key
    fi
    alive /run/munge/munged.pid || runuser -u munge -- munged
    # -c: a fresh cluster, no jobs or node states left from an earlier start.
    alive /run/slurmctld.pid || slurmctld -c
    alive /run/slurmd.pid || slurmd
    local state=""
    for _ in $(seq 60); do
        state=$(sinfo -h -n "$(hostname)" -o %t 2>/dev/null || true)
        [[ "$state" == idle || "$state" == mix || "$state" == alloc ]] && break
        sleep 1
    done
    if [[ "$state" != idle && "$state" != mix && "$state" != alloc ]]; then
        say "the node did not come up (state '${state:-none}'); the daemons' logs:"
        tail -n 30 "$LOGS/slurmctld.log" "$LOGS/slurmd.log" >&2 || true
        exit 1
    fi
    say "up: $(sinfo -h -o '%P %D node(s) %c CPUs %m MB, time limit %l')"
}

stop() {
    if alive /run/slurmctld.pid; then
        scancel --full $(squeue -h -o %i) 2>/dev/null || true
    fi
    local pidfile
    for pidfile in /run/slurmd.pid /run/slurmctld.pid /run/munge/munged.pid; do
        if alive "$pidfile"; then
            kill "$(cat "$pidfile")"
            for _ in $(seq 30); do alive "$pidfile" || break; sleep 1; done
        fi
    done
    say "stopped"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) sinfo && squeue ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
