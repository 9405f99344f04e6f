from . import architectures, roberta_lang, roberta_tagger  # noqa: F401
