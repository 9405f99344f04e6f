#!/bin/bash
# One task of a SLURM job started by scripts/slurm/job.sh: runs the given fairseq command with the
# settings that differ per task. Hydra writes its files under SAVE_DIR/hydra/rankN (not the
# cwd); on CPUs the rank is passed explicitly because fairseq's SLURM detection would call
# torch.cuda.set_device (docs/design.md §4).
set -euo pipefail
rank_args=("hydra.run.dir=$SAVE_DIR/hydra/rank$SLURM_PROCID")
[ "$DEVICE" = cpu ] && rank_args+=("distributed_training.distributed_rank=$SLURM_PROCID")
exec "$@" "${rank_args[@]}"
