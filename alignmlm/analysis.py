"""The context papers' questions asked of a pretrained model (docs/analysis.md), as functions of
embeddings, models and data; `alignmlm analyze` loads the inputs and writes the figures.

- `procrustes_alignment`: held-out word retrieval before and after an orthogonal map fit on the
  training pairs (Conneau et al. 2020: how much alignment is latent, a rotation away, rather
  than explicit);
- `layer_similarity`: per layer, linear CKA between the two languages' mean-pooled states of
  parallel sentences, and sentence retrieval P@1 in both directions (Conneau et al. 2020);
- `probe_transfer`: per layer, a linear probe (e.g. UPOS) trained on language 1's states and
  tested on language 2's (mOthello's alignment probe).
Language 1's side may come from one model and language 2's from another (two separately
trained models: Conneau et al.'s monolingual-models experiment).
"""

from __future__ import annotations

import numpy as np
import torch

from .alignment_benchmark import AlignmentBenchmark
from .layer_states import sentence_vectors, token_vectors
from .procrustes import normalize_rows, orthogonal_map, orthogonality_error
from .representation_similarity import linear_cka, sentence_retrieval_p1

PROBE_SEED = 0


def retrieval_figures(scores: dict) -> dict:
    """The word-retrieval figures of a `AlignmentBenchmark.score` result (queries and P@k per
    split), without the bookkeeping counts."""
    return {name: value for name, value in scores.items() if isinstance(value, dict) and "queries" in value}


@torch.no_grad()
def procrustes_alignment(
    bench: AlignmentBenchmark, source_rows: torch.Tensor, target_rows: torch.Tensor
) -> dict:
    """Held-out word retrieval of the embedding tables of language 1 (SOURCE_ROWS) and language 2
    (TARGET_ROWS) as they are (`before`, the figures evaluate-alignment reports) and after the
    orthogonal map W fit on the training pairs (`after`): word vectors normalised, centred and
    normalised again on each side (MUSE), W from Procrustes, held-out words retrieved as
    `source @ W`. Held-out words are never used by the fit, as never by an alignment loss."""
    sources, targets = bench.word_vectors(source_rows.float(), target_rows.float())
    # held-out words only: the training pairs are what the map is fit on (and the retrieval of
    # two splits among 40k candidates is most of the cost at the paper's size)
    before = bench.score(sources, targets, splits=("heldout",))
    sources, targets = normalize_rows(sources, center=True), normalize_rows(targets, center=True)
    fit_sources, fit_targets = bench.train_pairs(sources, targets)
    w = orthogonal_map(fit_sources, fit_targets)
    after = bench.score(sources @ w, targets, splits=("heldout",))
    return {
        "fit_pairs": int(fit_sources.shape[0]),
        "orthogonality_error": orthogonality_error(w),
        "before": retrieval_figures(before),
        "after": retrieval_figures(after),
    }


@torch.no_grad()
def layer_similarity(
    source_model, target_model, side1: list, side2: list, specials: set, pad: int, batch_size: int = 64
) -> list[dict]:
    """Per layer (0: embeddings), for parallel sentences SIDE1 (language 1, token tensors) and
    SIDE2 (their translations): linear CKA of the mean-pooled states, and the percentage of
    sentences whose nearest translation by cosine is their own, from 1 to 2 and from 2 to 1."""
    if len(side1) != len(side2) or len(side1) < 2:
        raise ValueError(
            f"layer similarity needs at least 2 parallel sentences, got {len(side1)} and {len(side2)}"
        )
    first = sentence_vectors(source_model, side1, 0, specials, pad, batch_size)
    second = sentence_vectors(target_model, side2, 1, specials, pad, batch_size)
    return [
        {
            "layer": k,
            "cka": round(linear_cka(x, y), 4),
            "retrieval_p1_1to2": round(sentence_retrieval_p1(x, y), 2),
            "retrieval_p1_2to1": round(sentence_retrieval_p1(y, x), 2),
        }
        for k, (x, y) in enumerate(zip(first, second))
    ]


def tagged_tokens(sentences: list, word_ids, label_index: dict, bos: int, eos: int, max_tokens: int) -> tuple:
    """(token tensors, first-piece positions, labels, words cut) of tagged SENTENCES [(words,
    labels)]: each word's label sits on its first piece; labels outside LABEL_INDEX and the words
    that do not fit in MAX_TOKENS (the model's positions) are left out, as in fine-tuning."""
    from .data.labelled_dataset import IGNORE
    from .data.tagging_dataset import encode_tagged

    tokens, positions, labels, cut = [], [], [], 0
    for words, tags in sentences:
        t, y, _, n_cut = encode_tagged(words, tags, word_ids, label_index, bos, eos, max_tokens)
        cut += n_cut
        keep = (y != IGNORE).nonzero().flatten()
        tokens.append(t)
        positions.append(keep.tolist())
        labels.extend(y[keep].tolist())
    return tokens, positions, np.array(labels, dtype=np.int64), cut


@torch.no_grad()
def probe_transfer(
    source_model, target_model, train: tuple, test1: tuple, test2: tuple, pad: int
) -> list[dict]:
    """Per layer, a multinomial logistic-regression probe fit on language 1's token states of
    TRAIN (tokens, positions, labels as `tagged_tokens` gives them) and scored (accuracy, %) on
    language 1's TEST1 (`accuracy_1`) and on language 2's TEST2 (`accuracy_2`, the transfer),
    states from SOURCE_MODEL for language 1 and TARGET_MODEL for language 2."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    x_train = token_vectors(source_model, train[0], train[1], 0, pad)
    x_test1 = token_vectors(source_model, test1[0], test1[1], 0, pad)
    x_test2 = token_vectors(target_model, test2[0], test2[1], 1, pad)
    rows = []
    for k in range(len(x_train)):
        # standardised on language 1's training states only: language 2 is seen only at test
        scaler = StandardScaler().fit(x_train[k].numpy())
        probe = LogisticRegression(max_iter=300, random_state=PROBE_SEED)
        probe.fit(scaler.transform(x_train[k].numpy()), train[2])
        rows.append(
            {
                "layer": k,
                "accuracy_1": round(100.0 * probe.score(scaler.transform(x_test1[k].numpy()), test1[2]), 2),
                "accuracy_2": round(100.0 * probe.score(scaler.transform(x_test2[k].numpy()), test2[2]), 2),
            }
        )
    return rows
