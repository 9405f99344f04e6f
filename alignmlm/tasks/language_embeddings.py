"""What the objectives with language embeddings (XLM, DICT-MLM) share: the model is the
`roberta_lang` twin of the asked architecture (same size, plus one language embedding per
language; --num-langs defaults to the number of languages), and every MLM stream's tokens carry
their language's id and positions counted from 0. A mixin, listed before the task's base:
`class XLMTask(LanguageEmbeddingTask, MultilingualMLMTask)`.

Fine-tuning and alignment evaluation recognise such a checkpoint by its weights (an
`embed_langs` table), not by the objective's name, so any task built on this mixin is treated as
XLM is there: the language embedding of each side is added.
"""

from contextlib import nullcontext

from fairseq.data import ConcatDataset
from omegaconf import OmegaConf, open_dict

from ..errors import InputError
from .multilingual_mlm import use_language_arch

STREAM_FIELDS = ("tokens", "lang_ids", "positions")


class LanguageEmbeddingTask:
    """Mixin for MultilingualMLMTask subclasses; `self.langs` gives each language's id (its index)."""

    def build_model(self, cfg, from_checkpoint=False):
        """The language-embedding twin of the asked architecture, of the same size, so that every
        objective is configured with the same `model._name` (roberta_tiny -> roberta_lang_tiny)."""
        num_langs = getattr(cfg, "num_langs", None) or 0
        if 0 < num_langs < len(self.langs):
            raise InputError(
                f"--num-langs {num_langs} is smaller than the {len(self.langs)} "
                f"languages of the data ({', '.join(self.langs)})"
            )
        with open_dict(cfg) if OmegaConf.is_config(cfg) else nullcontext():
            use_language_arch(cfg)
            if num_langs == 0:  # default: one language embedding per language of the data
                cfg.num_langs = len(self.langs)
        return super().build_model(cfg, from_checkpoint)

    def build_token_dataset(self, split, epoch, combine):
        """The streams of `token_streams` concatenated; their language ids and positions are the
        model's `src_lang_ids` and `src_positions`."""
        streams = self.token_streams(split, epoch, combine)
        tokens, lang_ids, positions = (ConcatDataset([s[f] for s in streams]) for f in STREAM_FIELDS)
        return tokens, {"src_lang_ids": lang_ids, "src_positions": positions}

    def token_streams(self, split, epoch, combine) -> list[dict]:
        """[{'tokens', 'lang_ids', 'positions': dataset}]: each language's MLM blocks
        (`language_streams`); XLM adds its TLM samples."""
        return self.language_streams(split, epoch, combine)


def has_language_embeddings(task_name: str) -> bool:
    """Whether the registered pretraining task `task_name` trains a `roberta_lang` model."""
    from fairseq.tasks import TASK_REGISTRY

    from . import dict_mlm, xlm  # noqa: F401  (registers them)

    return isinstance(TASK_REGISTRY.get(task_name), type) and issubclass(
        TASK_REGISTRY[task_name], LanguageEmbeddingTask
    )
