"""What the zero-shot transfer tasks (pos_tagging, nli, ner) share: the pair's tokenizer and
dictionary, the label set, language ids of derived splits. Not a task by itself.

Language ids follow the pair's order (pair.json "languages", as pretraining gives them): splits
named `*_derived` are its second language (id 1; a synthetic transform or, for a natural pair,
the second treebank), the others its first (id 0). No language name is looked at, so a natural
pair whose names sort the other way (lang1 tr, lang2 en) keeps its ids. Words are encoded by the
pair's sentencepiece model as they are; a word written `§word` takes the twins of its pieces
only when the pair has twins (a `trans` pair): a natural pair's words are never re-marked.
"""

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import sentencepiece as spm
from fairseq.data import Dictionary
from fairseq.dataclass import FairseqDataclass
from fairseq.tasks import FairseqTask
from omegaconf import II, MISSING

from ..data.labelled_dataset import LabelledDataset
from ..data.tagging_dataset import encode_tagged
from ..data.twins import word_pieces
from ..errors import InputError, describe_os_error
from ..pair import PreparedPair

logger = logging.getLogger(__name__)
MAX_SHOWN = 5  # unknown labels named in a message, the most frequent first


@dataclass
class FinetuningConfig(FairseqDataclass):
    data: str = field(default=MISSING, metadata={"help": "directory of the task's split files"})
    pair: str = field(
        default=MISSING,
        metadata={
            "help": "the prepared pair the model was pretrained on: its bin/dict.txt and spm.model "
            "tokenize the words"
        },
    )
    labels: str = field(default=MISSING, metadata={"help": "comma-separated label set"})
    max_positions: int = field(
        default=128,
        metadata={
            "help": "tokens per example, <s> and </s> included (longer ones are cut); must equal "
            "the pretraining --tokens-per-sample"
        },
    )
    derived_suffix: str = field(
        default="_derived",
        metadata={
            "help": "splits whose name ends so are in the pair's second language (derived or "
            "natural): language id 1 for models with language embeddings (XLM, DICT-MLM), 0 otherwise"
        },
    )
    seed: int = II("common.seed")


class FinetuningTask(FairseqTask):
    """Subclasses read a split into token and target tensors and call `add_split`."""

    cfg: FinetuningConfig

    def __init__(
        self,
        cfg: FinetuningConfig,
        dictionary: Dictionary,
        dictionary_path: Path,
        twins: bool = True,
        anchors: frozenset = frozenset(),
    ):
        super().__init__(cfg)
        self.dictionary, self.dictionary_path = dictionary, dictionary_path
        self.twins = twins  # `§word` -> the twins of its pieces (a pair whose pieces have twins)
        self.anchors = anchors  # ... but for the pieces both languages share
        self.labels = [label.strip() for label in cfg.labels.split(",") if label.strip()]
        self.label_index = {label: i for i, label in enumerate(self.labels)}
        self.sp = spm.SentencePieceProcessor(model_file=str(Path(cfg.pair) / "spm.model"))

    @classmethod
    def setup_task(cls, cfg: FinetuningConfig, **kwargs):
        dict_path = Path(cfg.pair) / "bin" / "dict.txt"
        if not dict_path.is_file():
            raise InputError(f"{dict_path} not found: --pair must be a prepared pair directory")
        pair = PreparedPair.load(cfg.pair)
        twins = pair.twin_offset > 0  # 0: natural, or synthetic without trans
        try:
            dictionary = Dictionary.load(str(dict_path))
            dictionary.add_symbol("<mask>")  # as in pretraining, so embedding sizes match
            return cls(cfg, dictionary, dict_path, twins, pair.anchors)
        except OSError as err:  # an unreadable dictionary or spm.model: one line, not a traceback
            raise InputError(describe_os_error(err)) from None

    def word_ids(self, word: str) -> list:
        """Dictionary ids of a word's pieces (`§word`: the twins of the pieces, if the pair has them)."""
        pieces = word_pieces(word, self._encode, self.anchors) if self.twins else self._encode(word)
        return [self.dictionary.index(p) for p in pieces]

    def _encode(self, text: str) -> list:
        return self.sp.encode(text, out_type=str)

    def check_labels(self, path: Path, labels: Counter) -> int:
        """The number of labels of split file `path` (`labels`: each label seen, with its count)
        outside the label set. A few are left out of loss and accuracy (a warning); when more
        than half are, the file is of another label set (numeric NLI labels, lower-case tags,
        ...), whose training would run at gradient 0 and report an untrained head: an error."""
        unknown = Counter({label: n for label, n in labels.items() if label not in self.label_index})
        total, outside = sum(labels.values()), sum(unknown.values())
        if not outside:
            return 0
        seen = ", ".join(f"{label!r} x{n}" for label, n in unknown.most_common(MAX_SHOWN))
        more = f" and {len(unknown) - MAX_SHOWN} more" if len(unknown) > MAX_SHOWN else ""
        if 2 * outside > total:
            raise InputError(
                f"{path}: {outside} of {total} labels are outside the label set ({seen}{more}); "
                f"--labels is {','.join(self.labels)}: convert the file's labels to these, or pass "
                "its own label set with --labels"
            )
        logger.warning(
            "%s: %d of %d labels outside the label set (%s%s) are ignored", path, outside, total, seen, more
        )
        return outside

    def add_tagged_split(self, split: str, path: Path, sentences) -> None:
        """A split of word-tagging data (POS, NER): `sentences` yields (words, labels) of the
        file `path`; each label sits on its word's first piece."""
        tokens, targets, unknown, cut, words, labels_seen = [], [], 0, 0, 0, Counter()
        for sentence_words, labels in sentences:
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

    def add_split(self, split: str, tokens: list, targets: list) -> None:
        lang_id = int(split.endswith(self.cfg.derived_suffix))  # the pair's second language: id 1
        self.datasets[split] = LabelledDataset(
            tokens,
            targets,
            self.dictionary.pad(),
            shuffle=split.startswith("train"),
            seed=self.cfg.seed,
            lang_id=lang_id,
        )

    def get_batch_iterator(self, dataset, **kwargs):
        # fairseq drops a last batch smaller than --required-batch-size-multiple (default 8;
        # fairseq issue #5036): test sets would lose up to 7 examples and training its
        # longest ones. Here every example counts.
        kwargs["required_batch_size_multiple"] = 1
        return super().get_batch_iterator(dataset, **kwargs)

    def max_positions(self):
        return self.cfg.max_positions

    @property
    def source_dictionary(self):
        return self.dictionary

    @property
    def target_dictionary(self):
        return self.dictionary
