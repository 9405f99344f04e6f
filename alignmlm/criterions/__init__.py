from . import align_mlm, sequence_classification, token_classification  # noqa: F401
