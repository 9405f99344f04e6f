"""Benchmark of the XLM and DICT-MLM baselines (issue: Baselines). Prints figures and ratios.

    .venv/bin/python benchmarks/bench_baselines.py [--rounds 3] [--updates 60]

Training throughput (tokens/s, fairseq's `wps`, median over updates after the first) of `xlm`
and `dict_mlm` against MLM on the tiny model and the bundled Trans+Inv pair at equal tokens per
batch, runs interleaved (mlm, xlm, dict_mlm, mlm, ...). Target ratio >= 0.97.
"""
import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_align_mlm import tiny_data, train_wps  # noqa: E402

OBJECTIVES = ("mlm", "xlm", "dict_mlm")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    p.add_argument("--updates", type=int, default=60, help="updates per run")
    args = p.parse_args()
    extra = ["--tokens-per-sample", "128", "--max-tokens", "4096"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = tiny_data(tmp)
        results = {name: [] for name in OBJECTIVES}
        for _ in range(args.rounds):
            for name in OBJECTIVES:
                results[name].append(train_wps(data, tmp, name, "roberta_tiny", args.updates, extra))
    mlm = statistics.median(results["mlm"])
    print(f"roberta_tiny, 128-token blocks, 4096 tokens per batch, {args.rounds} interleaved rounds")
    print(f"  mlm       {mlm:>9,.0f} tok/s   runs {[round(x) for x in results['mlm']]}")
    for name in OBJECTIVES[1:]:
        value = statistics.median(results[name])
        print(f"  {name:<9} {value:>9,.0f} tok/s   ratio {value / mlm:.3f} (target >= 0.97)   "
              f"runs {[round(x) for x in results[name]]}")


if __name__ == "__main__":
    main()
