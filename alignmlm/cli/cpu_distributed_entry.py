"""fairseq-train for one process of a CPU multi-process run started by torchrun.

fairseq's own torchrun detection divides by the number of CUDA devices, so on CPU each process
passes its rank explicitly (DESIGN §4): gloo, legacy DDP, env:// rendezvous from torchrun.
Used by `alignmlm train --cpu-workers N`; not needed on GPUs.
"""
import os
import sys

from fairseq_cli.train import cli_main

if __name__ == "__main__":
    if "--distributed-world-size" in sys.argv:  # another value than torchrun's hangs the ranks
        given = sys.argv[sys.argv.index("--distributed-world-size") + 1]
        if given != os.environ["WORLD_SIZE"]:
            sys.exit(f"error: --distributed-world-size {given} but torchrun launched "
                     f"{os.environ['WORLD_SIZE']} processes (--nproc-per-node)")
    sys.argv += [
        "--distributed-world-size", os.environ["WORLD_SIZE"],
        "--distributed-rank", os.environ["RANK"],
        "--distributed-init-method", "env://", "--distributed-no-spawn",
        "--distributed-backend", "gloo", "--ddp-backend", "legacy_ddp",
    ]
    cli_main()
