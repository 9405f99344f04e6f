from . import align_mlm  # noqa: F401
