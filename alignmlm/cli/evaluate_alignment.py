"""Word-embedding alignment of a checkpoint against its pair's bilingual dictionary.

    alignmlm evaluate-alignment --checkpoint runs/align/checkpoint_last.pt \\
        [--pair runs/data/en_trans_inv] [--output alignment.json]

Prints (and writes to --output) JSON with, in percent (docs/evaluation.md, "Alignment metrics"):
  heldout            source words none of whose pairs the alignment loss may use, each retrieving
                     among all the dictionary's target-language words: queries, p1_nn, p5_nn
                     (cosine), p1_csls, p5_csls (CSLS, 10 neighbours). The headline figure.
  train              the same for the source words the loss may train on
  heldout_identical, train_identical
                     queries with a translation spelled like themselves (trivially right with a
                     joint vocabulary), scored apart
  paper              the ALIGN-MLM authors' protocol (pairs with a script change only): numpy
                     seed 42, the last 40 % of the V source pieces, cosine among all V target rows
  mean_cosine        mean cosine of the train / held-out pairs
  checkpoint_sha256, pair_fingerprint
                     what the figures were computed from: the checkpoint file's content hash and
                     the pair's (alignmlm.pair.PreparedPair.fingerprint)
--output is checked before the evaluation (a directory, a missing parent or a directory that cannot
be written is refused at once) and written whole or not at all.
Words of several pieces are the mean of their pieces; language embeddings (XLM, DICT-MLM) are
added per side. These are the numbers (and, prefixed with `align_`, the names) that validation logs.
"""

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from alignmlm.errors import reported
from alignmlm.pair import PairError, PreparedPair
from alignmlm.safe_files import file_sha256, write_text_atomic


def check_output(output: Path, flag: str = "--output") -> None:
    """Refuse an output file (of option `flag`) that could not be written, before the slow work."""
    if output.is_dir():
        raise SystemExit(
            f"error: {flag} {output} is a directory; give a file path, e.g. {output / 'alignment.json'}"
        )
    parent = output.parent
    if not parent.is_dir():
        what = "is not a directory" if parent.exists() else "does not exist"
        raise SystemExit(
            f"error: {flag} {output}: its directory {parent} {what}; create it or choose another path"
        )
    try:  # the atomic write creates a file beside the output: try that (os.access is wrong for root)
        with tempfile.NamedTemporaryFile(dir=parent, prefix=f".{output.name}.probe"):
            pass
    except OSError as err:
        raise SystemExit(
            f"error: {flag} {output}: cannot write in {parent} ({err.strerror or err}); choose a location you can write"
        ) from None
    if output.exists() and not os.access(output, os.W_OK):
        raise SystemExit(f"error: {flag} {output}: not writable; choose another path or fix its permissions")


def check_dictionary(dictionary, pair: PreparedPair, checkpoint: Path) -> None:
    """The checkpoint's tokens must be the pair's, in the same order (not just as many)."""
    path = pair.fairseq_dictionary
    tokens = [line.rsplit(" ", 1)[0] for line in path.read_text(encoding="utf-8").splitlines()]
    first = dictionary.nspecial
    ours = dictionary.symbols[first : first + len(tokens)]
    if ours != tokens or len(dictionary) != first + len(tokens) + 1:  # + <mask>
        differ = next((i for i, (a, b) in enumerate(zip(ours, tokens)) if a != b), None)
        where = (
            f"token {first + differ} is {ours[differ]!r} there, {tokens[differ]!r} in {path}"
            if differ is not None
            else f"{len(dictionary)} tokens against {len(tokens)} in {path} (+{first} specials and <mask>)"
        )
        raise SystemExit(f"error: {checkpoint} was not trained on the data of {pair.root}: {where}")


def evaluate(checkpoint: Path, pair_dir: Path | None) -> dict:
    from alignmlm.alignment_benchmark import AlignmentBenchmark
    from alignmlm.checkpoint import checkpoint_config, load_checkpoint

    if not checkpoint.is_file():
        raise SystemExit(f"error: {checkpoint}: checkpoint not found")
    sha256 = file_sha256(checkpoint)  # of the file about to be loaded
    try:
        pair = PreparedPair.load(pair_dir) if pair_dir is not None else None
    except PairError as err:
        raise SystemExit(f"error: --pair {err}") from None
    trained_on = Path(checkpoint_config(checkpoint)["task"]["data"])
    data = None
    if not (trained_on / "dict.txt").is_file():  # moved, or relative to another directory
        if pair is None:
            raise SystemExit(
                f"error: {checkpoint} was trained on {trained_on}, which is not found from here; pass --pair"
            )
        data = pair.bin_dir
        print(
            f"warning: {checkpoint}'s training data {trained_on} is not found from here: its "
            f"dictionary cannot be compared with {pair.root}'s; using the latter",
            file=sys.stderr,
        )
    model, task = load_checkpoint(checkpoint, data=data)
    pair = pair or getattr(task, "pair", None)
    if pair is None:
        raise SystemExit(f"error: no prepared pair found for {checkpoint}; pass --pair")
    check_dictionary(task.dictionary, pair, checkpoint)
    bench = getattr(task, "alignment_benchmark", None)  # built by the task for validation
    if bench is None or bench.pair_dir != pair.root:
        bench = AlignmentBenchmark(pair, task.dictionary)
    result = bench.evaluate(model)
    encoder = getattr(model, "encoder", None)
    return {
        "checkpoint": str(checkpoint),
        "checkpoint_sha256": sha256,
        "pair": str(pair.root),
        "pair_fingerprint": pair.fingerprint(),
        "language_embeddings": getattr(encoder, "embed_langs", None) is not None,
        **result,
    }


@reported
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", type=Path, required=True, help="a checkpoint of this plugin")
    p.add_argument(
        "--pair",
        type=Path,
        help="prepared pair directory (default: the one whose bin/ the checkpoint was trained on)",
    )
    p.add_argument("--output", type=Path, help="also write the JSON here")
    args = p.parse_args(argv)
    if args.output:
        check_output(args.output)
        if args.output.resolve() == args.checkpoint.resolve():
            raise SystemExit(
                f"error: --output {args.output} is the checkpoint; give another file for the JSON"
            )
    result = evaluate(args.checkpoint, args.pair)
    text = json.dumps(result, indent=2)
    print(text)
    if args.output:
        write_text_atomic(args.output, text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
