"""Word-embedding alignment of a checkpoint against a bilingual dictionary (DESIGN §2).

    python scripts/evaluate_alignment.py --checkpoint runs/align/checkpoint_last.pt \\
        [--pair runs/data/en_trans_inv] [--output alignment.json]

Reports, as JSON (printed, and written to --output):
  p1_paper      P@1 by the paper's protocol: input-embedding rows L2-normalised; a seeded
                random --source-fraction (40%) of the dictionary's source tokens each retrieve
                the nearest row among all target-language tokens; right when it is their pair
  p1_heldout    the same retrieval for the held-out pairs (never used by an alignment loss)
  p1_train      the same for the training pairs
  mean_cosine   mean cosine of the pairs (all / train / heldout)
Target-language tokens: the twin range under `trans`, otherwise every non-special token.
Where the model has language embeddings (XLM), each side adds its language's embedding.
Only pairs whose words are single pieces are scored.
"""
import argparse
import json
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from user_dir.alignment import bag_means, precision_at_1  # noqa: E402
from user_dir.data.alignment_pairs import build_pair_bags, word_tokenizer  # noqa: E402
from user_dir.data.bilingual_dictionary import read_word_pairs  # noqa: E402


def side_embeddings(model, lang_index: int) -> torch.Tensor:
    from user_dir.models.embeddings import input_embedding_matrix
    embeddings = input_embedding_matrix(model).detach().float()
    langs = getattr(model.encoder, "embed_langs", None)
    return embeddings if langs is None else embeddings + langs.weight[lang_index].detach().float()


def evaluate(checkpoint: Path, pair_dir: Path | None, source_fraction: float, seed: int) -> dict:
    from user_dir.checkpoint import load_checkpoint
    from user_dir.tasks.align_mlm import prepared_pair

    model, task = load_checkpoint(checkpoint)
    d = task.dictionary
    if pair_dir is None:
        pair_dir = prepared_pair(task.cfg.data)[0]
    if pair_dir is None or not (pair_dir / "pair.json").is_file():
        raise SystemExit(f"error: no prepared pair found for {checkpoint}; pass --pair")
    manifest = json.loads((pair_dir / "pair.json").read_text())
    dict_size = len((pair_dir / "bin" / "dict.txt").read_text(encoding="utf-8").splitlines())
    if len(d) != d.nspecial + dict_size + 1:  # + <mask>
        raise SystemExit(f"error: {checkpoint} has a dictionary of {len(d)} tokens, but "
                         f"{pair_dir}/bin/dict.txt has {dict_size} (+{d.nspecial} specials and "
                         "<mask>): the checkpoint was not trained on this data")
    token_ids = word_tokenizer(d, manifest.get("dictionary_units", "pieces"),
                               pair_dir / manifest.get("spm_model", "spm.model"))
    bags = {name: build_pair_bags(read_word_pairs(pair_dir / "dict" / f"{name}.txt"), token_ids,
                                  d.unk(), "mean", name=f"{pair_dir}/dict/{name}.txt")
            for name in ("all", "train", "heldout")}

    # both sides in one matrix: rows [0, N) source language, [N, 2N) target language
    source, target = side_embeddings(model, 0), side_embeddings(model, 1)
    n = source.shape[0]
    stacked = torch.cat([source, target])
    offset = manifest.get("twin_offset", 0)
    first = d.nspecial
    candidates = (torch.arange(first + offset, first + 2 * offset) if offset
                  else torch.arange(first, len(d) - 1))  # all but specials and <mask>
    candidates = candidates + n

    def p1(pairs: torch.Tensor) -> float:
        return 100.0 * precision_at_1(stacked, pairs + torch.tensor([0, n]), candidates)

    all_pairs = bags["all"].single_piece_pairs()
    sources = torch.unique(all_pairs[:, 0])
    generator = torch.Generator().manual_seed(seed)
    chosen = sources[torch.randperm(len(sources), generator=generator)[: int(round(source_fraction * len(sources)))]]
    paper_pairs = all_pairs[torch.isin(all_pairs[:, 0], chosen)]
    cosine = {name: float(torch.nn.functional.cosine_similarity(
        bag_means(source, b.source), bag_means(target, b.target), dim=-1).mean())
        for name, b in bags.items()}
    return {"checkpoint": str(checkpoint), "pair": str(pair_dir),
            "p1_paper": p1(paper_pairs), "p1_heldout": p1(bags["heldout"].single_piece_pairs()),
            "p1_train": p1(bags["train"].single_piece_pairs()), "mean_cosine": cosine,
            "sources_scored": int(len(chosen)), "candidates": int(len(candidates)),
            "source_fraction": source_fraction, "seed": seed,
            "language_embeddings": getattr(model.encoder, "embed_langs", None) is not None}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", type=Path, required=True, help="a checkpoint of this plugin")
    p.add_argument("--pair", type=Path, help="prepared pair directory (default: the one whose "
                   "bin/ the checkpoint was trained on)")
    p.add_argument("--source-fraction", type=float, default=0.4,
                   help="share of source tokens scored by the paper's protocol (default 0.4)")
    p.add_argument("--seed", type=int, default=1, help="seed of that sample")
    p.add_argument("--output", type=Path, help="also write the JSON here")
    args = p.parse_args(argv)
    result = evaluate(args.checkpoint, args.pair, args.source_fraction, args.seed)
    text = json.dumps(result, indent=2)
    print(text)
    if args.output:
        args.output.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
