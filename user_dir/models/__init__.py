from . import architectures, roberta_lang  # noqa: F401
