from . import multilingual_mlm  # noqa: F401
