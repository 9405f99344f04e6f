from . import architectures  # noqa: F401
