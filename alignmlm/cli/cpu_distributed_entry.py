"""fairseq-hydra-train for one process of a CPU multi-process run started by torchrun.

fairseq's own torchrun detection divides by the number of CUDA devices, so on CPU each process
passes its rank explicitly (docs/design.md §4): gloo, legacy DDP, env:// rendezvous from torchrun.
Each rank keeps hydra's files apart. Used by `alignmlm train --cpu-workers N`; not for GPUs.
"""

import os
import sys

if __name__ == "__main__":
    world, rank = os.environ["WORLD_SIZE"], os.environ["RANK"]
    for arg in sys.argv[1:]:  # another world size than torchrun's hangs the ranks
        if arg.startswith("distributed_training.distributed_world_size=") and arg.split("=", 1)[1] != world:
            sys.exit(f"error: {arg} but torchrun launched {world} processes (--nproc-per-node)")
    from fairseq_cli.hydra_train import cli_main  # after the check: importing fairseq takes seconds

    from alignmlm import register

    # `python -m` imported the alignmlm package already, so fairseq's --user-dir import finds
    # it in sys.modules and registers nothing: register the tasks, models and criterions here
    register()
    sys.argv += [
        "common.cpu=true",
        f"distributed_training.distributed_world_size={world}",
        f"distributed_training.distributed_rank={rank}",
        "distributed_training.distributed_init_method=env://",
        "distributed_training.distributed_no_spawn=true",
        "distributed_training.distributed_backend=gloo",
        "distributed_training.ddp_backend=legacy_ddp",
        f"hydra.run.dir=${{checkpoint.save_dir}}/hydra/rank{rank}",
    ]
    cli_main()
