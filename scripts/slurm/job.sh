# The body of scripts/slurm/pretrain.sbatch, sourced by it (not run by itself).
# Run by bash on a login node: check the variables, then submit the template with sbatch
# (DRY_RUN=1: print the sbatch and srun commands, submit nothing). Run by SLURM: check that the
# job has the tasks the variables ask for, check every node, then srun one fairseq process per
# task, requeueing the job shortly before its time limit. Every check runs before training starts.
set -euo pipefail

die() { echo "error: $*" >&2; exit 2; }
template=$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)/$(basename "${BASH_SOURCE[1]}")

require() {  # require NAME "what it is"
  [ -n "${!1:-}" ] || die "$1 is not set: $2. Set it at the top of $template or as $1=... on the command line"
}
one_of() {  # one_of NAME VALUE...
  local name=$1 value=${!1}; shift
  for ok in "$@"; do [ "$value" = "$ok" ] && return; done
  die "$name=$value: expected one of $*"
}
positive_int() {
  [[ ${!1} =~ ^[1-9][0-9]*$ ]] || die "$1=${!1}: expected a positive integer"
}
config_name() {  # config_name NAME GROUP: NAME's value is the plain name of a configs/GROUP/*.yaml
  local value=${!1} known
  known=$(cd "$REPO/configs/$2" && ls -- *.yaml | sed 's/\.yaml$//' | tr '\n' ' ')
  # a path (OBJECTIVE=../run/cpu) would pick a file of another group
  [[ $value =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]*$ ]] && [ -f "$REPO/configs/$2/$value.yaml" ] \
    || die "$1=$value: expected the plain name of a file in configs/$2/: ${known% }"
}

# --- the variables ---------------------------------------------------------------------------
[ -d "$REPO/alignmlm" ] && [ -f "$REPO/configs/pretrain.yaml" ] \
  || die "REPO=$REPO is not this project's root (no alignmlm/, configs/): submit from the repository root or set REPO"
require PARTITION "the SLURM partition to run in"
require TIME "the wall time of one job, e.g. 24:00:00"
require DATA "the prepared pair directory (alignmlm prepare-pair --out DIR)"
require SAVE_DIR "the directory for checkpoints, logs and tensorboard files"
require OBJECTIVE "mlm, align_mlm, xlm or dict_mlm"
for name in NODES GPUS_PER_NODE CPUS_PER_TASK SAVE_INTERVAL_UPDATES REQUEUE_GRACE; do
  require "$name" "a positive integer"; positive_int "$name"
done
one_of DEVICE gpu cpu
one_of PRECISION fp16 bf16 amp fp32
config_name PRECISION precision
config_name OBJECTIVE objective
config_name RUN run
[ "$SIZE" = tiny ] || config_name SIZE size
if [ -n "$PORT" ]; then  # the default (20000 + job id mod 10000) is chosen in the job
  [[ $PORT =~ ^[1-9][0-9]{3,4}$ ]] && [ "$PORT" -ge 1024 ] && [ "$PORT" -le 65535 ] \
    || die "PORT=$PORT: expected an integer from 1024 to 65535 (or leave it unset: 20000 + job id mod 10000)"
fi
[ "$DEVICE" = gpu ] || [ "$PRECISION" = fp32 ] \
  || die "PRECISION=$PRECISION needs GPUs (DEVICE=gpu); on CPUs use PRECISION=fp32"
case $DATA in /*) ;; *) die "DATA=$DATA: give an absolute path (every node resolves it)";; esac
case $SAVE_DIR in /*) ;; *) die "SAVE_DIR=$SAVE_DIR: give an absolute path (every node resolves it)";; esac
PYTHON=${PYTHON:-$REPO/.venv/bin/python}
[ -x "$PYTHON" ] || die "PYTHON=$PYTHON is not executable: run scripts/setup.sh or set PYTHON"
pair_field() {  # pair_field FIELD: one field of the prepared pair DATA (alignmlm/pair.py)
  local value
  value=$("$PYTHON" -m alignmlm.pair "$DATA" "$1" 2>&1) || die "DATA=$DATA: ${value#error: }"
  echo "$value"
}
DATA_BIN=$(pair_field fairseq_data)  # bin/, or its shards joined by ":"
VALID_SUBSETS=$(pair_field valid_subsets)
WORLD_SIZE=$((NODES * GPUS_PER_NODE))
read -r -a extra_args <<< "$EXTRA_ARGS"
quoted_part="^([^'\"]*)('[^']*'|\"[^\"]*\")(.*)$"
for arg in "${extra_args[@]}"; do
  # hydra overrides only; anything else would fail in the job, after queueing
  case $arg in
    -*) die "EXTRA_ARGS: $arg: expected hydra overrides key=value (e.g. optimization.max_update=1000), not fairseq-train flags";;
    ~*) ;;  # ~key deletes a key
    *=*) ;;
    *) die "EXTRA_ARGS: $arg: expected key=value (e.g. optimization.max_update=1000); entries are separated by spaces";;
  esac
  rest=$arg  # take out the quoted parts, left to right: a quote left over never closes
  while [[ $rest =~ $quoted_part ]]; do rest=${BASH_REMATCH[1]}${BASH_REMATCH[3]}; done
  case $rest in
    *[\'\"]*) die "EXTRA_ARGS: $arg: unbalanced quote; a value cannot contain spaces, and its quotes must close within it";;
  esac
  case $arg in
    *distributed_world_size=*) [ "${arg#*=}" = "$WORLD_SIZE" ] || die "EXTRA_ARGS sets $arg but the job launches NODES x GPUS_PER_NODE = $WORLD_SIZE processes: fairseq would wait forever for the missing ranks; change NODES or GPUS_PER_NODE instead";;
  esac
done

# --- the fairseq command, one per task ------------------------------------------------------
srun_command() {  # srun_command MASTER_HOST PORT
  local size_args=() device_args=()
  [ "$SIZE" = tiny ] || size_args=("+size=$SIZE")
  if [ "$DEVICE" = cpu ]; then  # fairseq's SLURM detection calls cuda.set_device: explicit ranks
    device_args=(common.cpu=true distributed_training.distributed_backend=gloo
                 distributed_training.ddp_backend=legacy_ddp distributed_training.distributed_no_spawn=true
                 "distributed_training.distributed_init_method=tcp://$1:$2")
  fi
  command=(srun --kill-on-bad-exit=1 --nodes="$NODES" --ntasks-per-node="$GPUS_PER_NODE"
    --cpus-per-task="$CPUS_PER_TASK" "$REPO/scripts/slurm/task.sh"
    "$PYTHON" -m fairseq_cli.hydra_train --config-dir "$REPO/configs" --config-name pretrain
    "+objective=$OBJECTIVE" "+run=$RUN" "${size_args[@]}"
    "task.data=$DATA_BIN" "common.user_dir=$REPO/alignmlm" "checkpoint.save_dir=$SAVE_DIR"
    "dataset.valid_subset='$VALID_SUBSETS'" "checkpoint.save_interval_updates=$SAVE_INTERVAL_UPDATES"
    "distributed_training.distributed_world_size=$WORLD_SIZE"
    "distributed_training.distributed_port=$2" "${device_args[@]}" "+precision=$PRECISION" "${extra_args[@]}")
}

# --- on the login node: submit ---------------------------------------------------------------
if [ -z "${SLURM_JOB_ID:-}" ]; then
  # alignmlm train's own checks, writing nothing: the overrides, and above all the save directory,
  # which fairseq resumes: a checkpoint of another objective, architecture or data is refused here
  # instead of being continued as this run
  train_check=("$PYTHON" -m alignmlm train --objective "$OBJECTIVE" --data "$DATA" --save-dir "$SAVE_DIR"
    --run "$RUN" --precision "$PRECISION")
  [ "$SIZE" = tiny ] || train_check+=(--size "$SIZE")
  if ! checked=$(cd "$REPO" && "${train_check[@]}" --dry-run -- "${extra_args[@]}" 2>&1 >/dev/null); then
    error=$(grep '^error: ' <<< "$checked" | tail -n 1 || true)
    [ -n "$error" ] || error="error: $(tail -n 5 <<< "$checked")"
    die "${error#error: } (checked with: alignmlm train ... --dry-run)"
  fi
  resources=(--gpus-per-node="$GPUS_PER_NODE")
  [ "$DEVICE" = gpu ] || resources=()
  submit=(sbatch --job-name="$OBJECTIVE" --nodes="$NODES" --ntasks-per-node="$GPUS_PER_NODE"
    --cpus-per-task="$CPUS_PER_TASK" "${resources[@]}" --partition="$PARTITION" --time="$TIME"
    ${ACCOUNT:+--account="$ACCOUNT"} --requeue --signal="B:USR1@$REQUEUE_GRACE" --open-mode=append
    --output="$SAVE_DIR/slurm-%j.out" --chdir="$REPO" --export=ALL "$template")
  if [ -n "${DRY_RUN:-}" ]; then
    srun_command MASTER_HOST "${PORT:-PORT}"
    printf '+'; printf ' %q' "${submit[@]}"; echo
    printf '+ (in the job)'; printf ' %q' "${command[@]}"; echo
    exit 0
  fi
  command -v sbatch >/dev/null || die "sbatch not found: submit from a SLURM login node (DRY_RUN=1 prints the commands)"
  mkdir -p "$SAVE_DIR"
  [ -f "$SAVE_DIR/checkpoint_last.pt" ] && echo "note: $SAVE_DIR/checkpoint_last.pt (same objective, architecture and data) exists: the job resumes from it"
  export NODES GPUS_PER_NODE PARTITION TIME ACCOUNT DATA OBJECTIVE SAVE_DIR RUN SIZE PRECISION \
    SAVE_INTERVAL_UPDATES DEVICE CPUS_PER_TASK PORT PYTHON EXTRA_ARGS REQUEUE_GRACE REPO
  exec "${submit[@]}"
fi

# --- in the job ------------------------------------------------------------------------------
if [ "${SLURM_NNODES:-}" != "$NODES" ] || [ "${SLURM_NTASKS:-}" != "$WORLD_SIZE" ]; then
  tasks="${SLURM_NTASKS:-} tasks"
  [ -n "${SLURM_NTASKS:-}" ] || tasks="no task count (sbatch was given no --ntasks or --ntasks-per-node)"
  # here BASH_SOURCE is SLURM's spooled copy: name the file that was submitted instead
  submitted=$(scontrol show job -o "$SLURM_JOB_ID" 2>/dev/null | grep -o 'Command=[^ ]*' | cut -d= -f2- || true)
  die "the job has ${SLURM_NNODES:-?} nodes and $tasks, but NODES=$NODES x GPUS_PER_NODE=$GPUS_PER_NODE asks for $WORLD_SIZE processes: submit with 'bash ${submitted:-the template}' (it passes these to sbatch), or make them agree"
fi
export DEVICE SAVE_DIR  # read by task.sh, also when the template was given to sbatch directly
master=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
PORT=${PORT:-$((20000 + SLURM_JOB_ID % 10000))}
srun_command "$master" "$PORT"
echo "job $SLURM_JOB_ID (restart ${SLURM_RESTART_COUNT:-0}) on $SLURM_JOB_NODELIST: $OBJECTIVE, world size $WORLD_SIZE, $DEVICE, $PRECISION"
printf '+'; printf ' %q' "${command[@]}"; echo
[ -z "${DRY_RUN:-}" ] || exit 0
srun --nodes="$NODES" --ntasks="$NODES" --ntasks-per-node=1 --kill-on-bad-exit=1 "$PYTHON" -m alignmlm.cli.slurm_preflight \
  --data "$DATA_BIN" --save-dir "$SAVE_DIR" --device "$DEVICE" --processes-per-node "$GPUS_PER_NODE"
# requeue shortly before the time limit; fairseq resumes from checkpoint_last.pt when it restarts
trap 'echo "time limit near: requeueing job $SLURM_JOB_ID"; scontrol requeue "$SLURM_JOB_ID"' USR1
"${command[@]}" &
wait $!
