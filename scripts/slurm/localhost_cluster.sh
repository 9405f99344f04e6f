#!/bin/bash
# A one-node SLURM cluster on localhost (Debian's slurmctld, slurmd and munge), for trying the
# sbatch templates without a cluster and for the tests. Needs root (it installs the packages with
# apt-get if missing and runs munged as the munge user).
#
#   eval "$(bash scripts/slurm/localhost_cluster.sh start DIR)"   # prints `export SLURM_CONF=...`
#   sbatch / srun / scontrol ... (partition "debug", node "localhost", CPUS CPUs)
#   bash scripts/slurm/localhost_cluster.sh stop DIR
#
# DIR holds slurm.conf, state, spool and the daemons' logs (munge's key and socket: /tmp/munge-localhost.*); CPUS
# (default: nproc) sets the node's CPU count. Proctrack linuxproc and task/none: no cgroups needed.
set -euo pipefail

die() { echo "error: $*" >&2; exit 2; }
[ $# -eq 2 ] || die "usage: $0 start|stop DIR"
action=$1
dir=$(mkdir -p "$2" && cd "$2" && pwd)
export SLURM_CONF=$dir/slurm.conf

stop() {
  for name in slurmd slurmctld munged; do
    if [ -f "$dir/$name.pid" ]; then
      kill "$(cat "$dir/$name.pid")" 2>/dev/null || true
      rm -f "$dir/$name.pid"
    fi
  done
  if [ -f "$dir/munge_dir" ]; then rm -rf "$(cat "$dir/munge_dir")" "$dir/munge_dir"; fi
}

install_packages() {
  command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null \
    && command -v sbatch >/dev/null && return
  [ "$(id -u)" = 0 ] || die "slurmctld, slurmd, slurm-client and munge are missing and installing them needs root"
  echo "installing slurmctld slurmd slurm-client munge ..." >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurmctld slurmd slurm-client munge >&2
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local seconds=$1 what=$2; shift 2
  for _ in $(seq $((seconds * 5))); do "$@" >/dev/null 2>&1 && return; sleep 0.2; done
  die "$what did not come up in ${seconds} s; logs in $dir"
}

start() {
  [ "$(id -u)" = 0 ] || die "starting munged and slurmd needs root"
  install_packages
  stop
  mkdir -p "$dir/state" "$dir/spool"
  # munged runs as the munge user, which may not reach into DIR (e.g. a 0700 temp dir): its key,
  # socket and log live in a directory of their own under /tmp
  munge=$(mktemp -d /tmp/munge-localhost.XXXXXX)
  echo "$munge" > "$dir/munge_dir"
  dd if=/dev/urandom of="$munge/munge.key" bs=1024 count=1 status=none
  chown -R munge: "$munge" && chmod 700 "$munge" && chmod 400 "$munge/munge.key"
  runuser -u munge -- munged --key-file="$munge/munge.key" --socket="$munge/munge.socket" \
    --pid-file="$munge/munged.pid" --log-file="$munge/munged.log" --seed-file="$munge/seed" --force
  cp "$munge/munged.pid" "$dir/munged.pid"
  cat > "$SLURM_CONF" <<CONF
ClusterName=localhost
SlurmctldHost=localhost
AuthType=auth/munge
AuthInfo=socket=$munge/munge.socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldPort=${SLURMCTLD_PORT:-6817}
SlurmdPort=${SLURMD_PORT:-6818}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
KillWait=5
NodeName=localhost NodeAddr=127.0.0.1 CPUs=${CPUS:-$(nproc)} State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
  slurmctld -D -f "$SLURM_CONF" >"$dir/slurmctld.stdout" 2>&1 &
  wait_for 20 slurmctld scontrol ping
  slurmd -D -N localhost -f "$SLURM_CONF" >"$dir/slurmd.stdout" 2>&1 &
  wait_for 30 "the node" bash -c "sinfo -h -N -o %T | grep -qE '^(idle|mixed|allocated)'"
  echo "export SLURM_CONF=$SLURM_CONF"
}

case $action in
  start) start ;;
  stop) stop; echo "stopped the cluster of $dir" >&2 ;;
  *) die "usage: $0 start|stop DIR" ;;
esac
