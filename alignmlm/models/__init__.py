from . import architectures, roberta_classifier, roberta_lang, roberta_tagger  # noqa: F401
