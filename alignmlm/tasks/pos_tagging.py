"""POS tagging (UPOS) from CoNLL-U, for zero-shot transfer: fine-tune on one language, test on
the other (docs/design.md §2).

DATA holds `{split}.conllu` files (data_prep.prepare_pos); a split is any file name, so one
fine-tuning run can report several test sets (`--valid-subset valid,test_derived`). The
`*_derived` splits are the pair's second language: a synthetic one, or the treebank of a natural
pair's second language (language id 1 either way, see finetuning). Words are tokenized with the
pair's sentencepiece model and dictionary (`--pair`); on a pair with twins (`trans`, see
data_prep.transform_conllu) a word written `§word` takes the twins of its pieces, on others
every word is encoded as it is. Labels sit on each word's first piece. Labels outside `--labels` (default the 17 UPOS tags) are counted and ignored, with a
warning; a split where more than half are outside it is an error (another tag set).
"""

from dataclasses import dataclass, field
from pathlib import Path

from fairseq.tasks import register_task
from omegaconf import MISSING

from ..data.conllu_reader import UPOS_TAGS, tagged_words
from .finetuning import FinetuningConfig, FinetuningTask

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
        self.add_tagged_split(split, path, tagged_words(path))
