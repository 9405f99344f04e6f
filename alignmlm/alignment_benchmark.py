"""Word-embedding alignment of a model against its prepared pair's bilingual dictionary: the one
implementation behind validation logging (every pretraining task), alignmlm evaluate-alignment
and alignmlm compare, so that they all report the same numbers under the same names.

What is scored (MUSE's conventions, docs/evaluation.md, "Alignment metrics"):
- queries are the dictionary's source words of a split (`train`: the pairs the alignment loss
  may use; `heldout`: source words none of whose pairs it may use); a word of several pieces is
  the mean of its pieces' input embeddings;
- candidates are the distinct target-language words of the whole dictionary, embedded on the
  target side (with the target language's embedding added, for XLM and DICT-MLM) -- never the
  query's own language, so that with a joint vocabulary no query can retrieve itself;
- a query is right at k when any of its gold translations is among its k best candidates, by
  cosine (`nn`) or by CSLS with 10 neighbours (`csls`, r_S over all source words);
- queries one of whose translations is the same string (trivially right with a joint vocabulary
  and no language embeddings) are scored apart, as `SPLIT_identical`;
- `paper`: the ALIGN-MLM authors' protocol (their compute_alignment_*_lang_ids.py): for a pair
  with a script change (twins i <-> i + V), the V source pieces shuffled with numpy seed 42, the
  last 40 % as queries, each retrieving by cosine among all V target-language rows. Their
  vocabulary doubles the special tokens too; ours has no twins for specials, so the V rows are
  the pieces. Its queries include pieces the loss trained on. Anchor pieces (prepare-pair
  --anchor-fraction: shared by both languages, so trivially aligned) are left out of its
  queries (`anchors_left_out` says how many), as they are out of the dictionary.
All figures are percentages, but `anisotropy`: the mean cosine of random pairs of distinct
pieces' input embeddings (10,000 pairs, fixed seed; specials left out), from about 0 for a
well-spread space to 1 when every embedding points one way -- the collapse an alignment loss can
cause while reporting perfect pair cosines.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from .alignment import bag_means
from .data.alignment_pairs import pad_bags, word_tokenizer
from .data.bilingual_dictionary import read_word_pairs
from .models.embeddings import input_embedding_matrix, language_embeddings
from .pair import PreparedPair
from .retrieval import mean_top_k_cosine, precision_at_k, retrieve, retrieve_nn_and_csls

logger = logging.getLogger(__name__)

SPLITS = ("heldout", "train")
CSLS_NEIGHBOURS = 10
ANISOTROPY_PAIRS, ANISOTROPY_SEED = 10_000, 0
PAPER_SEED, PAPER_QUERY_FRACTION = 42, 0.4


class AlignmentBenchmark:
    """Built once from a prepared pair and the model's fairseq dictionary; `evaluate(model)`
    scores any model with that dictionary."""

    def __init__(self, pair: PreparedPair, dictionary):
        self.pair_dir = pair.root
        token_ids = word_tokenizer(dictionary, pair.dictionary_units, pair.spm_model)
        unk = dictionary.unk()

        def in_vocabulary(word: str):
            ids = token_ids(word)
            return ids if ids and unk not in ids else None

        everything = read_word_pairs(pair.bilingual_dictionary("all"))
        pieces = {w: in_vocabulary(w) for pair in everything for w in pair}
        self.out_of_vocabulary = sorted(w for w, ids in pieces.items() if ids is None)
        usable = [(s, t) for s, t in everything if pieces[s] and pieces[t]]
        if not usable:
            raise ValueError(
                f"{self.pair_dir}/dict/all.txt: no pair has both words in the "
                "vocabulary; is it the dictionary of this model's data?"
            )
        self.sources = sorted({s for s, _ in usable})
        self.targets = sorted({t for _, t in usable})
        self.source_bags = pad_bags([pieces[w] for w in self.sources])
        self.target_bags = pad_bags([pieces[w] for w in self.targets])
        source_index = {w: i for i, w in enumerate(self.sources)}
        target_index = {w: i for i, w in enumerate(self.targets)}

        # per split: {"": (query source indices, gold [G, 2] of (query row, target index)),
        #             "_identical": the same for queries with an identical translation}
        self.queries: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.pair_rows: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        for split in SPLITS:
            path = pair.bilingual_dictionary(split)
            if not path.is_file() or not path.read_text(encoding="utf-8").strip():
                continue  # e.g. no held-out pairs (--dict-train-fraction 1)
            pairs = [(s, t) for s, t in read_word_pairs(path) if pieces.get(s) and pieces.get(t)]
            gold: dict[str, set] = {}
            for s, t in pairs:
                gold.setdefault(s, set()).add(t)
            self.pair_rows[split] = (
                torch.tensor([source_index[s] for s, _ in pairs]),
                torch.tensor([target_index[t] for _, t in pairs]),
            )
            for suffix, identical in (("", False), ("_identical", True)):
                words = sorted(s for s in gold if (s in gold[s]) is identical)
                rows = [(q, target_index[t]) for q, s in enumerate(words) for t in sorted(gold[s])]
                self.queries[split + suffix] = (
                    torch.tensor([source_index[s] for s in words], dtype=torch.long),
                    torch.tensor(rows, dtype=torch.long).reshape(-1, 2),
                )

        self.first_piece = dictionary.nspecial
        self.twin_offset = pair.twin_offset
        # anchors (pieces both languages share: one row, aligned by construction) never score
        self.anchor_rows = frozenset(dictionary.index(p) - self.first_piece for p in pair.anchors)
        logger.info(
            "alignment benchmark of %s: %d source words, %d candidate target words; "
            "queries: %s; %d words out of vocabulary",
            self.pair_dir,
            len(self.sources),
            len(self.targets),
            ", ".join(f"{k} {len(v[0])}" for k, v in self.queries.items()),
            len(self.out_of_vocabulary),
        )

    @torch.no_grad()
    def evaluate(self, model) -> dict:
        source_rows, target_rows = language_embeddings(model, 0), language_embeddings(model, 1)
        result = self.score(*self.word_vectors(source_rows, target_rows))
        result["paper"] = self._paper_protocol(source_rows, target_rows)
        result["anisotropy"] = round(anisotropy(input_embedding_matrix(model)[self.first_piece :]), 4)
        return result

    def word_vectors(self, source_rows: torch.Tensor, target_rows: torch.Tensor) -> tuple:
        """(sources [S, D], targets [T, D]): every source and candidate word as the mean of its
        pieces' rows, from the embedding tables of language 1 and language 2."""
        sources = bag_means(source_rows, self.source_bags.to(source_rows.device))
        targets = bag_means(target_rows, self.target_bags.to(target_rows.device))
        return sources, targets.to(sources.device)

    def train_pairs(self, sources: torch.Tensor, targets: torch.Tensor) -> tuple:
        """Matched rows (source words, their translations) of the pairs the alignment loss may
        use: what a supervised map (Procrustes) is fit on, as MUSE fits it on its train split."""
        if "train" not in self.pair_rows:
            raise ValueError(f"{self.pair_dir}/dict/train.txt has no pairs in the vocabulary")
        s, t = self.pair_rows["train"]
        return sources[s.to(sources.device)], targets[t.to(targets.device)]

    @torch.no_grad()
    def score(self, sources: torch.Tensor, targets: torch.Tensor, splits=SPLITS) -> dict:
        """Word retrieval of the queries of SPLITS (each with its `_identical` part) among all
        candidate words, and the mean cosine of their pairs, for word vectors as `word_vectors`
        gives them (or mapped)."""
        device = sources.device
        depth = min(5, len(self.targets))
        r_source = mean_top_k_cosine(targets, sources, CSLS_NEIGHBOURS)  # CSLS's r_S, once
        result = {
            "candidates": len(self.targets),
            "source_words": len(self.sources),
            "out_of_vocabulary_words": len(self.out_of_vocabulary),
        }
        for name, (query, gold) in self.queries.items():
            if name.removesuffix("_identical") not in splits:
                continue
            scores = {"queries": int(len(query))}
            if len(query):
                tops = retrieve_nn_and_csls(
                    sources[query.to(device)], targets, r_source, k=depth, csls_k=CSLS_NEIGHBOURS
                )
                for method, top in zip(("nn", "csls"), tops):
                    for k, value in precision_at_k(top, gold, ks=sorted({1, depth})).items():
                        scores[f"p{k}_{method}"] = round(100.0 * value, 2)
            result[name] = scores
        result["mean_cosine"] = {
            split: round(
                float(
                    torch.nn.functional.cosine_similarity(
                        sources[s.to(device)], targets[t.to(device)], dim=-1
                    ).mean()
                ),
                4,
            )
            for split, (s, t) in self.pair_rows.items()
            if len(s) and split in splits
        }
        return result

    def _paper_protocol(self, source_rows: torch.Tensor, target_rows: torch.Tensor) -> dict:
        v, first = self.twin_offset, self.first_piece
        if not v:
            return {
                "queries": 0,
                "note": "defined only for a synthetic pair with a script "
                "change (trans), where piece i's translation is i + V",
            }
        order = list(range(v))
        np.random.RandomState(PAPER_SEED).shuffle(order)  # as their np.random.seed(42); shuffle
        query = [q for q in order[-int(v * PAPER_QUERY_FRACTION) :] if q not in self.anchor_rows]
        anchors_left_out = int(v * PAPER_QUERY_FRACTION) - len(query)
        query = torch.tensor(query)
        top = retrieve(
            source_rows[first : first + v][query.to(source_rows.device)],
            target_rows[first + v : first + 2 * v],
            k=1,
        )
        result = {
            "queries": int(len(query)),
            "p1_nn": round(100.0 * (top[:, 0].cpu() == query).float().mean().item(), 2),
        }
        if anchors_left_out:
            result["anchors_left_out"] = anchors_left_out
        return result


def anisotropy(rows: torch.Tensor, pairs: int = ANISOTROPY_PAIRS, seed: int = ANISOTROPY_SEED) -> float:
    """Mean cosine of PAIRS random pairs of distinct rows (the same pairs for every model of one
    vocabulary size: a seeded generator)."""
    n = rows.shape[0]
    generator = torch.Generator().manual_seed(seed)
    first = torch.randint(n, (pairs,), generator=generator)
    second = (first + torch.randint(1, n, (pairs,), generator=generator)) % n  # never the same row
    rows = rows.detach().float()
    device = rows.device
    return float(
        torch.nn.functional.cosine_similarity(rows[first.to(device)], rows[second.to(device)], dim=-1).mean()
    )


def flat_metrics(result: dict) -> dict:
    """{'heldout_p1_nn': 12.5, ..., 'paper_p1_nn': 48.2, 'anisotropy': 0.03}: the figures of
    `evaluate` under the names logged at validation (with an `align_` prefix) and written to
    compare's CSV."""
    flat = {
        f"{group}_{key}": value
        for group, scores in result.items()
        if isinstance(scores, dict)
        for key, value in scores.items()
        if key.startswith("p")
    }
    if "anisotropy" in result:
        flat["anisotropy"] = result["anisotropy"]
    return flat
