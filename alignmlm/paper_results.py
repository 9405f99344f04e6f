"""The ALIGN-MLM paper's results (Tang, Deshpande & Narasimhan 2022; `xlm.csv` in
princeton-nlp/align-mlm's plots_and_images/xlm_plots; docs/design.md §2): B_S / B_Z per
objective x transformation x task, and alignment P@1 by the paper's protocol. Facts to compare a
reproduction with (alignmlm compare prints them beside its own cells); XNLI is our `nli`."""

from __future__ import annotations

OBJECTIVES = ("mlm", "xlm", "dict_mlm", "align_mlm")  # the paper's row order
TRANSFORMS = ("trans", "trans+inv", "trans+syn")
TASKS = ("nli", "ner", "pos")

# (objective, transform) -> task -> (B_S, B_Z, delta) as the paper prints them (delta = B_Z - B_S
# from the unrounded scores, so it may differ from the rounded difference by 0.1)
TRANSFER = {
    ("mlm", "trans"): {"nli": (76.4, 74.9, -1.5), "ner": (80.6, 78.0, -2.6), "pos": (95.0, 94.6, -0.4)},
    ("mlm", "trans+inv"): {
        "nli": (73.9, 56.7, -17.2),
        "ner": (79.2, 35.9, -43.3),
        "pos": (95.0, 56.5, -38.5),
    },
    ("mlm", "trans+syn"): {"nli": (73.5, 69.0, -4.5), "ner": (71.3, 52.3, -19.0), "pos": (93.6, 91.6, -2.0)},
    ("xlm", "trans"): {"nli": (77.3, 77.5, 0.2), "ner": (80.8, 79.7, -1.1), "pos": (95.0, 94.8, -0.2)},
    ("xlm", "trans+inv"): {"nli": (75.4, 67.2, -8.2), "ner": (80.0, 60.7, -19.4), "pos": (95.0, 61.8, -33.2)},
    ("xlm", "trans+syn"): {"nli": (76.1, 74.1, -1.9), "ner": (71.5, 59.6, -11.9), "pos": (93.7, 92.7, -0.9)},
    ("dict_mlm", "trans"): {"nli": (77.0, 75.9, -1.1), "ner": (79.3, 78.3, -1.1), "pos": (95.1, 94.8, -0.3)},
    ("dict_mlm", "trans+inv"): {
        "nli": (74.5, 65.3, -9.2),
        "ner": (79.1, 59.8, -19.3),
        "pos": (95.0, 76.0, -19.0),
    },
    ("dict_mlm", "trans+syn"): {
        "nli": (74.3, 72.2, -2.2),
        "ner": (71.4, 57.6, -13.8),
        "pos": (93.6, 92.6, -1.0),
    },
    ("align_mlm", "trans"): {"nli": (75.1, 75.5, 0.5), "ner": (79.4, 78.6, -0.8), "pos": (94.9, 94.8, -0.1)},
    ("align_mlm", "trans+inv"): {
        "nli": (75.5, 68.8, -6.7),
        "ner": (80.0, 64.5, -15.5),
        "pos": (95.0, 92.0, -3.0),
    },
    ("align_mlm", "trans+syn"): {
        "nli": (74.7, 71.1, -3.6),
        "ner": (71.3, 58.3, -13.1),
        "pos": (93.7, 92.9, -0.8),
    },
}

# (objective, transform) -> alignment P@1 (%), the paper's protocol
ALIGNMENT_P1 = {
    ("mlm", "trans"): 90.0,
    ("mlm", "trans+inv"): 0.3,
    ("mlm", "trans+syn"): 57.3,
    ("xlm", "trans"): 97.7,
    ("xlm", "trans+inv"): 85.6,
    ("xlm", "trans+syn"): 98.6,
    ("dict_mlm", "trans"): 95.7,
    ("dict_mlm", "trans+inv"): 64.2,
    ("dict_mlm", "trans+syn"): 93.7,
    ("align_mlm", "trans"): 98.4,
    ("align_mlm", "trans+inv"): 95.2,
    ("align_mlm", "trans+syn"): 98.2,
}

# the paper's Spearman rho between alignment P@1 and delta, over its 12 cells
CORRELATION = {"nli": 0.727, "ner": 0.781, "pos": 0.734}


def scores(objective: str, transform: str, task: str) -> tuple | None:
    """(B_S, B_Z, delta) of a paper cell, None for a cell or task the paper does not have."""
    return TRANSFER.get((objective, transform), {}).get(task)


def cells() -> list[tuple[str, str]]:
    """The 12 cells in the paper's order: objectives, then transformations."""
    return [(o, t) for o in OBJECTIVES for t in TRANSFORMS]
