"""POS tagging (UPOS) from CoNLL-U, for zero-shot transfer: fine-tune on one language, test on
the other (docs/design.md §2).

DATA holds `{split}.conllu` files; a split is any file name, so one fine-tuning run can report
several test sets (`--valid-subset valid,test_derived`). Words are tokenized with the pair's
sentencepiece model and dictionary (`--pair`); a word written `§word` (the `trans` language, see
data_prep.transform_conllu) takes the twins of its pieces. Labels sit on each word's first
piece. Labels outside `--labels` (default the 17 UPOS tags) are counted and ignored, with a
warning; a split where more than half are outside it is an error (another tag set).
"""

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from fairseq.tasks import register_task
from omegaconf import MISSING

from ..data.conllu_reader import UPOS_TAGS, tagged_words
from ..data.tagging_dataset import encode_tagged
from .finetuning import FinetuningConfig, FinetuningTask

logger = logging.getLogger(__name__)
UPOS = ",".join(UPOS_TAGS)


@dataclass
class PosTaggingConfig(FinetuningConfig):
    data: str = field(default=MISSING, metadata={"help": "directory of {split}.conllu files"})
    labels: str = field(
        default=UPOS, metadata={"help": "comma-separated label set (default: the 17 UPOS tags)"}
    )


@register_task("pos_tagging", dataclass=PosTaggingConfig)
class PosTaggingTask(FinetuningTask):
    cfg: PosTaggingConfig

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        path = Path(self.cfg.data) / f"{split}.conllu"
        tokens, targets, unknown, cut, words, labels_seen = [], [], 0, 0, 0, Counter()
        for sentence_words, labels in tagged_words(path):
            t, y, n_unknown, n_cut = encode_tagged(
                sentence_words,
                labels,
                self.word_ids,
                self.label_index,
                self.dictionary.bos(),
                self.dictionary.eos(),
                self.cfg.max_positions,
            )
            tokens.append(t)
            targets.append(y)
            unknown, cut, words = unknown + n_unknown, cut + n_cut, words + len(sentence_words)
            labels_seen.update(labels)
        logger.info(
            "%s: %d sentences, %d words; %d with labels outside the label set (ignored), "
            "%d cut by --max-positions",
            path,
            len(tokens),
            words,
            unknown,
            cut,
        )
        self.check_labels(path, labels_seen)  # mostly unknown labels: an error, not a 0-gradient run
        self.add_split(split, tokens, targets)
