"""`alignmlm COMMAND ...` (or `python -m alignmlm COMMAND ...`): every command of the toolkit.
`alignmlm COMMAND --help` documents each one's flags."""

import importlib
import sys

# command -> (module with main(argv), one line of what it does)
COMMANDS = {
    "prepare-pair": (
        "alignmlm.data_prep.prepare_pair",
        "corpus -> language pair: transform, sentencepiece, dictionary, binarized data",
    ),
    "transform-conllu": ("alignmlm.data_prep.transform_conllu", "apply a pair's transform to CoNLL-U files"),
    "prepare-pos": (
        "alignmlm.data_prep.prepare_pos",
        "UPOS data of a pair's two languages, binarized for fine-tuning",
    ),
    "prepare-nli": ("alignmlm.data_prep.prepare_nli", "NLI data of a pair's two languages"),
    "prepare-ner": ("alignmlm.data_prep.prepare_ner", "NER data of a pair's two languages (BIO re-derived)"),
    "train": ("alignmlm.cli.train", "pretrain one objective on a prepared pair (fairseq-hydra-train)"),
    "evaluate-alignment": (
        "alignmlm.cli.evaluate_alignment",
        "word-embedding alignment of a checkpoint (P@1/P@5, NN and CSLS)",
    ),
    "analyze": (
        "alignmlm.cli.analyze",
        "post-hoc Procrustes, layer-wise CKA and sentence retrieval, probe transfer of a checkpoint",
    ),
    "alignment-curve": ("alignmlm.cli.alignment_curve", "alignment over training, from validation logs"),
    "finetune": ("alignmlm.cli.finetune", "zero-shot transfer: fine-tune on one language, test on both"),
    "compare": (
        "alignmlm.cli.compare",
        "objectives x pairs x seeds: pretrain, evaluate, table and correlation",
    ),
    "export-hf": ("alignmlm.cli.export_hf", "a checkpoint as a Hugging Face transformers RobertaForMaskedLM"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"  {name:<{width}}  {what}" for name, (_, what) in COMMANDS.items()]
    return "usage: alignmlm COMMAND [ARGS...]   (alignmlm COMMAND --help)\n\ncommands:\n" + "\n".join(lines)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    if argv[0] not in COMMANDS:
        print(f"error: unknown command {argv[0]!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    sys.argv[0] = f"alignmlm {argv[0]}"
    return module.main(argv[1:]) or 0


if __name__ == "__main__":
    sys.exit(main())
