"""POS tagging (UPOS) from CoNLL-U, for zero-shot transfer: fine-tune on one language, test on
the other (DESIGN §2).

DATA holds `{split}.conllu` files; a split is any file name, so one fine-tuning run can report
several test sets (`--valid-subset valid,test_derived`). Words are tokenized with the pair's
sentencepiece model and dictionary (`--pair`); a word written `§word` (the `trans` language, see
data_prep.transform_conllu) takes the twins of its pieces. Labels sit on each word's first
piece. Labels outside `--labels` (default the 17 UPOS tags) are counted and ignored.
"""
import logging
from dataclasses import dataclass, field
from pathlib import Path

import sentencepiece as spm
from fairseq.data import Dictionary
from fairseq.dataclass import FairseqDataclass
from fairseq.tasks import FairseqTask, register_task
from omegaconf import II, MISSING

from ..data.conllu_reader import tagged_words
from ..data.tagging_dataset import TaggingDataset, encode_tagged
from ..data.twins import word_pieces

logger = logging.getLogger(__name__)
UPOS = ("ADJ,ADP,ADV,AUX,CCONJ,DET,INTJ,NOUN,NUM,PART,PRON,PROPN,PUNCT,SCONJ,SYM,VERB,X")


@dataclass
class PosTaggingConfig(FairseqDataclass):
    data: str = field(default=MISSING, metadata={"help": "directory of {split}.conllu files"})
    pair: str = field(default=MISSING, metadata={
        "help": "the prepared pair the model was pretrained on: its bin/dict.txt and spm.model "
        "tokenize the words"})
    labels: str = field(default=UPOS, metadata={
        "help": "comma-separated label set (default: the 17 UPOS tags)"})
    max_positions: int = field(default=128, metadata={
        "help": "tokens per sentence, <s> and </s> included (longer sentences are cut); must "
        "equal the pretraining --tokens-per-sample"})
    derived_suffix: str = field(default="_derived", metadata={
        "help": "splits whose name ends so are in the derived language: language id 1 for "
        "models with language embeddings (XLM), 0 otherwise"})
    seed: int = II("common.seed")


@register_task("pos_tagging", dataclass=PosTaggingConfig)
class PosTaggingTask(FairseqTask):
    cfg: PosTaggingConfig

    def __init__(self, cfg: PosTaggingConfig, dictionary: Dictionary):
        super().__init__(cfg)
        self.dictionary = dictionary
        self.labels = [label.strip() for label in cfg.labels.split(",") if label.strip()]
        self.label_index = {label: i for i, label in enumerate(self.labels)}
        self.sp = spm.SentencePieceProcessor(model_file=str(Path(cfg.pair) / "spm.model"))

    @classmethod
    def setup_task(cls, cfg: PosTaggingConfig, **kwargs):
        dict_path = Path(cfg.pair) / "bin" / "dict.txt"
        if not dict_path.is_file():
            raise FileNotFoundError(f"{dict_path}: --pair must be a prepared pair directory")
        dictionary = Dictionary.load(str(dict_path))
        dictionary.add_symbol("<mask>")  # as in pretraining, so embedding sizes match
        return cls(cfg, dictionary)

    def word_ids(self, word: str) -> list:
        return [self.dictionary.index(p) for p in word_pieces(word, self._encode)]

    def _encode(self, text: str) -> list:
        return self.sp.encode(text, out_type=str)

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        path = Path(self.cfg.data) / f"{split}.conllu"
        tokens, targets, unknown, cut, words = [], [], 0, 0, 0
        for sentence_words, labels in tagged_words(path):
            t, y, n_unknown, n_cut = encode_tagged(
                sentence_words, labels, self.word_ids, self.label_index,
                self.dictionary.bos(), self.dictionary.eos(), self.cfg.max_positions)
            tokens.append(t)
            targets.append(y)
            unknown, cut, words = unknown + n_unknown, cut + n_cut, words + len(sentence_words)
        logger.info("%s: %d sentences, %d words; %d with labels outside the label set (ignored), "
                    "%d cut by --max-positions", path, len(tokens), words, unknown, cut)
        lang_id = int(split.endswith(self.cfg.derived_suffix))
        self.datasets[split] = TaggingDataset(tokens, targets, self.dictionary.pad(),
                                              shuffle=split.startswith("train"),
                                              seed=self.cfg.seed, lang_id=lang_id)

    def max_positions(self):
        return self.cfg.max_positions

    @property
    def source_dictionary(self):
        return self.dictionary

    @property
    def target_dictionary(self):
        return self.dictionary
