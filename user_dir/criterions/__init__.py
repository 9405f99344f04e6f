from . import align_mlm, token_classification  # noqa: F401
