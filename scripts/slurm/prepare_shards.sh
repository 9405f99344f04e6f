#!/bin/bash
# Prepare a synthetic pair of a large plain-text corpus as N fairseq data shards with SLURM: one
# job trains sentencepiece (--stage vocab), an array of N jobs encodes and binarizes one shard
# each, side by side (--stage shard --shard-index $SLURM_ARRAY_TASK_ID), and a last job assembles
# the pair (--stage finish); each waits for the one before (afterok). Set the variables below
# (here, or as NAME=value on the command line), then from the repository root:
#
#   bash scripts/slurm/prepare_shards.sh            # submits the three jobs
#   DRY_RUN=1 bash scripts/slurm/prepare_shards.sh  # prints the sbatch commands
#
# Then pretrain on it as on any pair: pretrain.sbatch with DATA=$OUT (fairseq-train reads
# DATA=OUT/bin/shard0:...:shardN-1, one shard per epoch). docs/pipeline.md, "Shards".

CORPUS=${CORPUS:-}                 # plain-text corpus, one or more sentences per line, visible on every node (required)
TRANSFORM=${TRANSFORM:-trans+inv}  # prepare-pair --transform
OUT=${OUT:-}                       # the prepared pair's directory (required; new, empty, or a pair of these settings)
SHARDS=${SHARDS:-8}                # number of shards (>= 2)
VOCAB_SIZE=${VOCAB_SIZE:-40000}    # sentencepiece pieces per language (the paper's)
WORKERS=${WORKERS:-8}              # CPU cores of each job (prepare-pair --workers)
PARTITION=${PARTITION:-}           # SLURM partition (required)
TIME=${TIME:-4:00:00}              # wall time of each job
ACCOUNT=${ACCOUNT:-}               # SLURM account, if your cluster wants one
LOG_DIR=${LOG_DIR:-}               # where the jobs' output goes (default: OUT.slurm, beside OUT)
PYTHON=${PYTHON:-}                 # python with the plugin (default: REPO/.venv/bin/python)
EXTRA_ARGS=${EXTRA_ARGS:-}         # more prepare-pair flags, e.g. "--seed 2 --valid-size 5000"
DRY_RUN=${DRY_RUN:-}               # 1: print the sbatch commands, submit nothing

set -euo pipefail
die() { echo "error: $*" >&2; exit 2; }
REPO=${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
PYTHON=${PYTHON:-$REPO/.venv/bin/python}
[ -n "$CORPUS" ] || die "CORPUS is not set: the plain-text corpus to prepare"
[ -n "$OUT" ] || die "OUT is not set: the directory of the prepared pair"
[ -n "$PARTITION" ] || die "PARTITION is not set: the SLURM partition to submit to"
[ -f "$CORPUS" ] || die "CORPUS=$CORPUS: file not found"
[[ "$SHARDS" =~ ^[0-9]+$ && "$SHARDS" -ge 2 ]] || die "SHARDS=$SHARDS: expected a number >= 2"
[[ "$WORKERS" =~ ^[0-9]+$ && "$WORKERS" -ge 1 ]] || die "WORKERS=$WORKERS: expected a number >= 1"
[ -x "$PYTHON" ] || die "PYTHON=$PYTHON is not executable: run scripts/setup.sh or set PYTHON"
CORPUS=$(cd "$(dirname "$CORPUS")" && pwd)/$(basename "$CORPUS")
OUT=$(realpath -m "$OUT")
LOG_DIR=${LOG_DIR:-$OUT.slurm}

# every stage gets the same flags: the pair's settings are checked at each stage
read -r -a extra <<< "$EXTRA_ARGS"
prepare=("$PYTHON" -m alignmlm prepare-pair --corpus "$CORPUS" --transform "$TRANSFORM" --out "$OUT"
  --vocab-size "$VOCAB_SIZE" --workers "$WORKERS" --shards "$SHARDS" "${extra[@]}")
common=(--partition="$PARTITION" --time="$TIME" --nodes=1 --ntasks=1 --cpus-per-task="$WORKERS" --parsable)
[ -z "$ACCOUNT" ] || common+=(--account="$ACCOUNT")

submit() {  # submit NAME [sbatch options] -- COMMAND...: prints the job id
  local name=$1; shift
  local options=()
  while [ "$1" != "--" ]; do options+=("$1"); shift; done
  shift
  local command
  command=$(printf '%q ' "$@")
  command=${command//\\\$SLURM_ARRAY_TASK_ID/\$SLURM_ARRAY_TASK_ID}  # expanded in the job
  if [ -n "$DRY_RUN" ]; then
    echo "+ sbatch --job-name=$name ${common[*]} ${options[*]} --chdir=$REPO --wrap=\"$command\"" >&2
    echo "$name"
  else
    sbatch --job-name="$name" "${common[@]}" "${options[@]}" --chdir="$REPO" --wrap="$command"
  fi
}

[ -n "$DRY_RUN" ] || mkdir -p "$LOG_DIR"
vocab=$(submit prepare-vocab --output="$LOG_DIR/vocab-%j.out" -- "${prepare[@]}" --stage vocab)
shard=$(submit prepare-shard --array=0-$((SHARDS - 1)) --dependency=afterok:"$vocab" \
  --output="$LOG_DIR/shard-%A_%a.out" -- "${prepare[@]}" --stage shard --shard-index '$SLURM_ARRAY_TASK_ID')
finish=$(submit prepare-finish --dependency=afterok:"$shard" --output="$LOG_DIR/finish-%j.out" \
  -- "${prepare[@]}" --stage finish)
echo "submitted: vocabulary job $vocab, shard array $shard (0-$((SHARDS - 1))), finish job $finish; logs in $LOG_DIR"
