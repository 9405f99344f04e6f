"""Checks one node before a SLURM job trains (run once per node by scripts/slurm/job.sh), so that
a node that cannot see the data, has fewer GPUs than processes or cannot write the save
directory stops the job at once, with the host named, instead of hanging the other ranks.

    python -m alignmlm.cli.slurm_preflight --data BIN --save-dir DIR --device gpu --processes-per-node 8
"""

import argparse
import os
import socket
import sys
from pathlib import Path


def problems(data: Path, save_dir: Path, device: str, processes: int) -> list:
    found = []
    if not data.is_dir():
        found.append(f"data directory {data} does not exist here (is it on a shared file system?)")
    elif not (data / "dict.txt").is_file():
        found.append(f"{data} has no dict.txt: not a fairseq data directory")
    try:
        save_dir.mkdir(parents=True, exist_ok=True)
        probe = save_dir / f".preflight_{socket.gethostname()}_{os.getpid()}"
        probe.write_text("ok")
        probe.unlink()
    except OSError as err:
        found.append(f"cannot write the save directory {save_dir}: {err}")
    if device == "gpu":
        import torch

        gpus = torch.cuda.device_count()
        if gpus < processes:
            found.append(
                f"{gpus} GPUs visible (CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')}) "
                f"but {processes} processes per node were asked for"
            )
    return found


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="fairseq data directory (with dict.txt)")
    p.add_argument("--save-dir", type=Path, required=True, help="checkpoint directory")
    p.add_argument("--device", choices=["gpu", "cpu"], default="gpu", help="gpu or cpu")
    p.add_argument("--processes-per-node", type=int, default=1, help="fairseq processes on this node")
    args = p.parse_args(argv)
    host = socket.gethostname()
    found = problems(args.data, args.save_dir, args.device, args.processes_per_node)
    for problem in found:
        print(f"error: preflight on {host}: {problem}", file=sys.stderr)
    if not found:
        print(f"preflight on {host}: ok (data {args.data}, save dir {args.save_dir}, {args.device})")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
