"""Benchmark of the XLM and DICT-MLM baselines (issue: Baselines). Prints figures and ratios.

    .venv/bin/python -m benchmarks.bench_baselines [--rounds 3] [--updates 60]

(from the repository root). Training throughput (tokens/s, fairseq's `wps`, median over updates
after the first) of `xlm` and `dict_mlm` against MLM with the shared recipe's model and batch
(configs/pretrain.yaml: the tiny model, equal tokens per batch; each objective's settings are
its task's and criterion's defaults) on the quickstart's Trans+Inv pair (or one prepared here),
runs interleaved (mlm, xlm, dict_mlm, mlm, ...). Target ratio >= 0.97.
"""

import argparse
import statistics
import tempfile
from pathlib import Path

from benchmarks.bench_align_mlm import CPU, describe, run_config, tiny_data, train_wps

OBJECTIVES = ("mlm", "xlm", "dict_mlm")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    p.add_argument("--updates", type=int, default=60, help="updates per run")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pair = tiny_data(tmp)
        cfg = run_config("mlm", pair.root, CPU)
        results = {name: [] for name in OBJECTIVES}
        for _ in range(args.rounds):
            for name in OBJECTIVES:
                results[name].append(train_wps(pair.root, tmp, name, args.updates))
    mlm = statistics.median(results["mlm"])
    print(f"{describe(cfg)}, {args.rounds} interleaved rounds of {args.updates} updates")
    print(f"  mlm       {mlm:>9,.0f} tok/s   runs {[round(x) for x in results['mlm']]}")
    for name in OBJECTIVES[1:]:
        value = statistics.median(results[name])
        print(
            f"  {name:<9} {value:>9,.0f} tok/s   ratio {value / mlm:.3f} (target >= 0.97)   "
            f"runs {[round(x) for x in results[name]]}"
        )


if __name__ == "__main__":
    main()
