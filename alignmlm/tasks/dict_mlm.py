"""DICT-MLM: masked LM where masked tokens interact with a bilingual dictionary (docs/design.md §3).

--dict-mlm-mode input  (default; the ALIGN-MLM authors' DICT-MLM-50): with probability
    --dict-mlm-prob a masked token that has a dictionary entry is shown as its translation,
    and the model must still predict the original token;
--dict-mlm-mode target (Chaudhary et al. 2020): with that probability the model must predict
    a translation of the masked token instead of the token.
As in the authors' model, it has language embeddings (the `roberta_lang` twin of the asked
architecture, tasks/language_embeddings.py): every token carries its stream's language id, and a
token shown as its translation the other language's. --dict-mlm-no-entry unchanged reproduces
the authors' collator's handling of masked tokens without an entry (data/dict_substitution.py).
The dictionary is the bilingual-dictionary task's (--bilingual-dict, as ALIGN-MLM), read
in both directions. Draws are deterministic per (seed, epoch, sample), so a resumed run sees the
same data. What a substitution replaces follows the dictionary's units (--dict-units; auto: the
prepared pair's):
  pieces (synthetic pairs): a masked token, by its single-piece translation (its twin);
  words  (natural pairs): a whole word whose pieces are all masked, piece for piece by a
         translation with as many pieces; pairs whose words differ in piece count are not used,
         and the task logs how many pairs are usable (data/dict_substitution.py).
"""

import logging
from dataclasses import dataclass, field

from fairseq.dataclass import ChoiceEnum
from fairseq.tasks import register_task

from ..data.dict_substitution import NO_ENTRY, DictSubstitutionDataset, WordTranslations, translation_table
from ..errors import InputError
from .bilingual_dictionary import BilingualDictionaryConfig, BilingualDictionaryTask
from .language_embeddings import LanguageEmbeddingTask

logger = logging.getLogger(__name__)


@dataclass
class DictMLMConfig(BilingualDictionaryConfig):
    dict_mlm_mode: ChoiceEnum(["input", "target"]) = field(
        default="input",
        metadata={
            "help": "input: show a masked token's translation, predict the token (DICT-MLM-50 of "
            "the ALIGN-MLM authors); target: predict the translation (Chaudhary et al.)"
        },
    )
    dict_mlm_prob: float = field(
        default=0.5,
        metadata={"help": "probability that a masked token with a dictionary entry is substituted"},
    )
    dict_mlm_no_entry: ChoiceEnum(list(NO_ENTRY)) = field(
        default="mask",
        metadata={
            "help": "a masked token with no dictionary entry: 'mask', fairseq's 80/10/10 as for "
            "any masked token; 'unchanged', the ALIGN-MLM authors' collator (for exact "
            "reproduction, input mode only): shown unchanged when it draws the substitution "
            "branch (--dict-mlm-prob), at p=0.5 such tokens end 55/40/5 per cent unchanged/<mask>/random"
        },
    )


@register_task("dict_mlm", dataclass=DictMLMConfig)
class DictMLMTask(LanguageEmbeddingTask, BilingualDictionaryTask):
    """Train it with --criterion masked_lm: no alignment loss."""

    cfg: DictMLMConfig

    def __init__(self, cfg: DictMLMConfig, dictionary=None):
        super().__init__(cfg, dictionary)
        if len(self.langs) != 2:  # a substituted token takes "the other" language's id
            raise InputError(
                f"dict_mlm trains on a pair of languages; the data has {len(self.langs)} "
                f"({', '.join(self.langs)}): set --langs L1,L2"
            )
        if str(cfg.dict_mlm_no_entry) == "unchanged" and str(cfg.dict_mlm_mode) != "input":
            raise InputError(
                "--dict-mlm-no-entry unchanged reproduces the authors' input-mode collator; "
                "it has no meaning with --dict-mlm-mode target"
            )
        logger.info(
            "dict_mlm: mode %s, p=%.2f, no-entry tokens: %s",
            cfg.dict_mlm_mode,
            cfg.dict_mlm_prob,
            cfg.dict_mlm_no_entry,
        )
        self.table = self.counts = self.words = None
        if self.dictionary_units() == "words":
            self.words = self._word_translations()
        else:
            pairs = self.dictionary_pairs.single_piece_pairs()
            if len(pairs) == 0:
                raise InputError(
                    "dict_mlm: the dictionary has no pair of single pieces to substitute; check --bilingual-dict"
                )
            self.table, self.counts = translation_table(pairs, len(self.dictionary))
            logger.info("dict_mlm: %d tokens have a translation", (self.counts > 0).sum())

    def dictionary_units(self) -> str:
        """'pieces' or 'words': --dict-units, or under auto the prepared pair's (as the base task
        encodes the dictionary)."""
        units = str(self.cfg.dict_units)
        if units == "auto":
            units = self.pair.dictionary_units if self.pair else "pieces"
        return units

    def _word_translations(self) -> WordTranslations:
        bags = self.dictionary_pairs
        pairs = [
            (source[source >= 0].tolist(), target[target >= 0].tolist())
            for source, target in zip(bags.source, bags.target)
        ]
        words = WordTranslations(pairs, self.dictionary)
        stats = words.stats
        logger.info(
            "dict_mlm: words substitute whole; of the dictionary's %d encoded pairs %d are usable "
            "(%d of one piece each, %d of several pieces, as many on each side), %d are not (their "
            "words differ in piece count); %d words have a translation",
            stats["pairs"],
            stats["single_piece"] + stats["multi_piece"],
            stats["single_piece"],
            stats["multi_piece"],
            stats["unequal_pieces"],
            len(words),
        )
        if len(words) == 0:
            raise InputError(
                f"dict_mlm: none of the dictionary's {stats['pairs']} pairs can substitute a word: a "
                "word and its translation must have as many sentencepiece pieces; check --bilingual-dict"
            )
        return words

    def transform_masked(self, src, tgt, extra_inputs):
        common = dict(
            table=self.table,
            counts=self.counts,
            mode=str(self.cfg.dict_mlm_mode),
            prob=self.cfg.dict_mlm_prob,
            pad=self.source_dictionary.pad(),
            seed=self.cfg.seed,
            no_entry=str(self.cfg.dict_mlm_no_entry),
            lang_ids=extra_inputs["src_lang_ids"],
            other_lang=[1, 0],
            words=self.words,
        )
        extra_inputs = dict(
            extra_inputs, src_lang_ids=DictSubstitutionDataset(src, tgt, field="lang_ids", **common)
        )
        return (
            DictSubstitutionDataset(src, tgt, field="source", **common),
            DictSubstitutionDataset(src, tgt, field="target", **common),
            extra_inputs,
        )
