"""A pretraining checkpoint (MLM, ALIGN-MLM, DICT-MLM, XLM) as a Hugging Face transformers
RobertaForMaskedLM with its tokenizer, for evaluation suites that load transformers models.

    alignmlm export-hf runs/align_mlm/checkpoint_last.pt runs/hf/align_mlm \\
        [--pair runs/data/en_trans_inv] [--overwrite]

OUT/ then holds
  config.json, model.safetensors   the RobertaForMaskedLM (float32), its LM head included
  tokenization_alignmlm.py, tokenizer_config.json, special_tokens_map.json, vocab.json, spm.model
                                   the pair's tokenizer: sentencepiece, then the joint fairseq
                                   dictionary; `§word` is a word of the script-changed language
  README.md                        what it is and how to load it

    from transformers import AutoModelForMaskedLM, AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(OUT, trust_remote_code=True)
    model = AutoModelForMaskedLM.from_pretrained(OUT)

trust_remote_code runs OUT/tokenization_alignmlm.py (written here, needs only transformers and
sentencepiece): no built-in tokenizer maps `§word` to the twins of the word's pieces. An XLM
checkpoint's language embeddings become RoBERTa's token-type embeddings: pass token_type_ids =
the language's id (README.md lists them). Before anything is moved into OUT, the exported model
is loaded back and its logits compared with the fairseq model's on validation sentences of
each language. Needs the `hf` extra: pip install -e .[hf]
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import logging
import os
import shutil
import sys
import tempfile
from argparse import Namespace
from pathlib import Path

import sentencepiece as spm

from alignmlm.data_prep.transforms import FINAL_CHARACTERS
from alignmlm.errors import reported

try:  # the tokenizer below is written into OUT; without transformers main() stops first
    from transformers import AddedToken, PreTrainedTokenizer
except ImportError:
    AddedToken = PreTrainedTokenizer = object

# fairseq model setting -> the value under which HF's RoBERTa computes exactly what fairseq does
REQUIRED_SETTINGS = {
    "encoder_normalize_before": False,  # post-LN layers and no final encoder LayerNorm
    "layernorm_embedding": True,  # LayerNorm right after the embeddings
    "no_scale_embedding": True,  # token embeddings not scaled by sqrt(dim)
    "encoder_learned_pos": True,  # learned positions, not sinusoidal
    "no_token_positional_embeddings": False,
    "activation_fn": "gelu",  # HF's LM head always applies exact GELU
    "adaptive_input": False,
}
# each pretraining task of the plugin -> the objective's name
OBJECTIVES = {"multilingual_mlm": "MLM", "align_mlm": "ALIGN-MLM", "dict_mlm": "DICT-MLM", "xlm": "XLM"}
VERIFY_TOLERANCE = 1e-3  # max |logit difference| allowed: float32 noise is ~1e-6
VERIFY_SENTENCES = 2  # validation sentences per language compared at export
TOKENIZER_MODULE = "tokenization_alignmlm"


class ExportError(Exception):
    """A checkpoint, pair or output that cannot be exported; the message says why."""


def first_line(err: Exception) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0]}" if text else type(err).__name__


# ---------------------------------------------------------------------------------------------
# The tokenizer. Its source is copied into OUT/tokenization_alignmlm.py, so it may use only
# what TOKENIZER_HEADER imports (that is why it repeats a few lines of alignmlm.data.twins and
# data_prep.transforms instead of importing them).

TOKENIZER_HEADER = '''"""Tokenizer of a model exported by `alignmlm export-hf` (README.md): text of the pair's
languages -> the ids of its fairseq pretraining data."""
from __future__ import annotations

import json
import os

import sentencepiece as spm
from transformers import AddedToken, PreTrainedTokenizer
''' + (
    "\n# the characters a final . ! ? run is made of (alignmlm.data_prep.transforms)\n"
    f"FINAL_CHARACTERS = {FINAL_CHARACTERS!r}\n"
)


class AlignMLMTokenizer(PreTrainedTokenizer):
    """The pair's sentencepiece model, then the joint fairseq dictionary (vocab.json).

    A word written `§word` (twin_mark `§`) belongs to the script-changed language: its pieces
    are the twins `§piece` of the pieces of `word`. With detach_final_punctuation (synthetic
    pairs of a plain-text corpus, which was so prepared) the ". ! ?" run ending any unmarked word
    is split off first ("the border. Then" -> "the border . Then"), in a text of two words or
    more that is not already split into words. One sentence is `<s> ... </s>`, a pair
    `<s> A </s></s> B </s>`.
    """

    vocab_files_names = {"vocab_file": "vocab.json", "spm_file": "spm.model"}
    model_input_names = ["input_ids", "attention_mask"]

    def __init__(
        self,
        vocab_file: str,
        spm_file: str,
        twin_mark: str = "",
        detach_final_punctuation: bool = False,
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        **kwargs,
    ):
        with open(vocab_file, encoding="utf-8") as f:
            self.vocab: dict = json.load(f)
        self.ids_to_tokens = {i: token for token, i in self.vocab.items()}
        self.unk_id = self.vocab[str(unk_token)]
        self.spm_file = spm_file
        self.sp = spm.SentencePieceProcessor(model_file=spm_file)
        self.twin_mark = twin_mark
        self.detach_final_punctuation = detach_final_punctuation
        if isinstance(mask_token, str):  # "<mask>" takes the space before it, as in RoBERTa
            mask_token = AddedToken(mask_token, lstrip=True, rstrip=False, special=True)
        super().__init__(
            bos_token=bos_token,
            eos_token=eos_token,
            sep_token=sep_token,
            cls_token=cls_token,
            unk_token=unk_token,
            pad_token=pad_token,
            mask_token=mask_token,
            twin_mark=twin_mark,
            detach_final_punctuation=detach_final_punctuation,
            **kwargs,
        )

    def __getstate__(self):  # picklable (e.g. for datasets.map with several processes)
        state = self.__dict__.copy()
        state["sp"] = self.sp.serialized_model_proto()
        return state

    def __setstate__(self, state):
        self.__dict__ = state
        self.sp = spm.SentencePieceProcessor(model_proto=state["sp"])

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def get_vocab(self) -> dict:
        return {**self.vocab, **self.added_tokens_encoder}

    def prepare_for_tokenization(self, text: str, is_split_into_words: bool = False, **kwargs):
        words = text.split()
        # one word is left alone: transformers 5 tokenizes is_split_into_words input word by word
        # without telling (and "Mr." stays "Mr." in a CoNLL-U sentence)
        if self.detach_final_punctuation and not is_split_into_words and len(words) > 1:
            out = []
            for word in words:  # as data_prep.transforms.split_final_punctuation
                stem = word.rstrip(FINAL_CHARACTERS)
                if stem and stem != word and not (self.twin_mark and word.startswith(self.twin_mark)):
                    out += [stem, word[len(stem) :]]
                else:
                    out.append(word)
            text = " ".join(out)
        return text, kwargs

    def _pieces(self, text: str) -> list:
        # by id, so that an unknown piece is "<unk>" as in the pretraining data
        return [self.sp.id_to_piece(i) for i in self.sp.encode(text)]

    def _tokenize(self, text: str) -> list:
        mark = self.twin_mark
        pieces = []
        for word in text.split():  # sentencepiece splits at spaces too: same pieces
            if mark and word.startswith(mark) and len(word) > len(mark):
                pieces.extend(mark + p for p in self._pieces(word[len(mark) :]))
            else:
                pieces.extend(self._pieces(word))
        return pieces

    def _convert_token_to_id(self, token: str) -> int:
        return self.vocab.get(token, self.unk_id)

    def _convert_id_to_token(self, index: int) -> str:
        return self.ids_to_tokens.get(index, self.ids_to_tokens[self.unk_id])

    def convert_tokens_to_string(self, tokens: list) -> str:
        mark, text = self.twin_mark, ""
        for token in tokens:
            if mark and token.startswith(mark) and len(token) > len(mark):
                token = token[len(mark) :]  # a twin: the mark goes once before its word
                token = "\u2581" + mark + token[1:] if token.startswith("\u2581") else token
            text += token
        return text.replace("\u2581", " ").strip()

    def build_inputs_with_special_tokens(self, token_ids_0: list, token_ids_1: list | None = None):
        if token_ids_1 is None:
            return [self.cls_token_id] + token_ids_0 + [self.sep_token_id]
        sep = [self.sep_token_id]
        return [self.cls_token_id] + token_ids_0 + sep + sep + token_ids_1 + sep

    def get_special_tokens_mask(
        self, token_ids_0: list, token_ids_1: list | None = None, already_has_special_tokens: bool = False
    ) -> list:
        if already_has_special_tokens:
            return super().get_special_tokens_mask(token_ids_0, token_ids_1, True)
        if token_ids_1 is None:
            return [1] + [0] * len(token_ids_0) + [1]
        return [1] + [0] * len(token_ids_0) + [1, 1] + [0] * len(token_ids_1) + [1]

    def create_token_type_ids_from_sequences(
        self, token_ids_0: list, token_ids_1: list | None = None
    ) -> list:
        return [0] * len(self.build_inputs_with_special_tokens(token_ids_0, token_ids_1))

    def save_vocabulary(self, save_directory: str, filename_prefix: str | None = None) -> tuple:
        prefix = filename_prefix + "-" if filename_prefix else ""
        vocab_path = os.path.join(save_directory, prefix + "vocab.json")
        with open(vocab_path, "w", encoding="utf-8") as f:
            json.dump(self.vocab, f, ensure_ascii=False, indent=0)
        spm_path = os.path.join(save_directory, prefix + "spm.model")
        if os.path.abspath(self.spm_file) != os.path.abspath(spm_path):
            with open(spm_path, "wb") as f:
                f.write(self.sp.serialized_model_proto())
        return vocab_path, spm_path


def write_tokenizer(out: Path, dictionary, pair, max_positions: int) -> None:
    """vocab.json (the fairseq dictionary's token -> id, as fairseq looks tokens up), spm.model,
    the tokenizer's code and its config; AutoTokenizer finds the class through auto_map."""
    (out / "vocab.json").write_text(
        json.dumps(dictionary.indices, ensure_ascii=False, indent=0), encoding="utf-8"
    )
    shutil.copyfile(pair.spm_model, out / "spm.model")
    (out / f"{TOKENIZER_MODULE}.py").write_text(
        TOKENIZER_HEADER + "\n" + inspect.getsource(AlignMLMTokenizer), encoding="utf-8"
    )
    specials = {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "sep_token": "</s>",
        "cls_token": "<s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "mask_token": "<mask>",
    }
    config = {
        "tokenizer_class": AlignMLMTokenizer.__name__,
        "auto_map": {"AutoTokenizer": [f"{TOKENIZER_MODULE}.{AlignMLMTokenizer.__name__}", None]},
        "twin_mark": twin_mark(pair),
        "detach_final_punctuation": detaches_final_punctuation(pair),
        "model_max_length": max_positions,
        "clean_up_tokenization_spaces": False,
        **specials,
    }
    (out / "tokenizer_config.json").write_text(
        json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (out / "special_tokens_map.json").write_text(json.dumps(specials, indent=2) + "\n", encoding="utf-8")


def detaches_final_punctuation(pair) -> bool:
    """Whether prepare-pair detached final . ! ? runs from the words of the pair's corpus: a
    synthetic pair of plain text (a CoNLL-U corpus is read as its FORMs, "Mr." kept whole)."""
    formats = pair.settings.get("corpus_format") or {}  # absent: prepared before CoNLL-U corpora
    return pair.settings.get("kind") == "synthetic" and formats.get("corpus", "text") == "text"


def twin_mark(pair) -> str:
    """`§` when the pair's second language is script-changed (its pieces have twins)."""
    from alignmlm.data.twins import TWIN_MARK

    return TWIN_MARK if pair.twin_offset else ""


# ---------------------------------------------------------------------------------------------
# Checks before anything is loaded or written


def check_output(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ExportError(
            f"{out} is not empty; choose a new or empty directory, or pass "
            "--overwrite to replace the exported files in it (others are kept)"
        )


def require_transformers() -> None:
    missing = [m for m in ("transformers", "safetensors") if importlib.util.find_spec(m) is None]
    if missing:
        raise ExportError(
            f"{' and '.join(missing)} not installed: export-hf needs the hf "
            "extra, pip install -e .[hf] (or pip install -r requirements.txt)"
        )


def model_settings(cfg: dict) -> tuple[str, Namespace]:
    """(architecture, settings with the architecture's defaults filled in) of a checkpoint's
    config; ExportError unless it is a RoBERTa this command can export."""
    from fairseq.models import ARCH_CONFIG_REGISTRY, ARCH_MODEL_REGISTRY
    from fairseq.models.roberta import RobertaModel

    from alignmlm.models.roberta_lang import RobertaLangModel

    model_cfg = dict(cfg.get("model") or {})
    arch = model_cfg.get("arch") or model_cfg.get("_name")
    model_class = ARCH_MODEL_REGISTRY.get(arch)
    if model_class not in (RobertaModel, RobertaLangModel):
        family = model_class.__name__ if model_class else "unknown to fairseq and this plugin"
        raise ExportError(
            f"unsupported architecture {arch!r} ({family}): export-hf exports "
            "pretraining checkpoints of fairseq RoBERTa (roberta_tiny, "
            "roberta_align_paper, ...) and its XLM twin (roberta_lang_*)"
        )
    settings = Namespace(**model_cfg)
    ARCH_CONFIG_REGISTRY[arch](settings)  # the defaults the model was built with
    if getattr(settings, "shared_layers_from", 0):
        raise ExportError(
            f"the model has language-specific layers (--shared-layers-from "
            f"{settings.shared_layers_from}): transformers' RoBERTa has one copy of each layer, "
            "so it cannot hold this model"
        )
    for name, wanted in REQUIRED_SETTINGS.items():
        value = getattr(settings, name, None)
        if value != wanted:
            raise ExportError(
                f"architecture {arch} has {name}={value!r}, but transformers' "
                f"RoBERTa is built as {name}={wanted!r}: it cannot be exported exactly"
            )
    return arch, settings


def check_task(cfg: dict) -> str:
    task = (cfg.get("task") or {}).get("_name")
    if task not in OBJECTIVES:
        raise ExportError(
            f"task {task!r} is not one of the pretraining objectives "
            f"({', '.join(OBJECTIVES)}); export-hf exports pretraining checkpoints"
        )
    return task


def find_pair(stored_data: str, given: Path | None):
    """The prepared pair: --pair if given, else the one whose bin/ the checkpoint trained on."""
    from alignmlm.pair import PairError, PreparedPair

    if given is not None:
        if not given.is_dir():
            raise ExportError(f"--pair {given}: directory not found")
        try:
            return PreparedPair.load(given)
        except PairError as err:
            raise ExportError(f"--pair {err}") from None
    data = Path(str(stored_data).split(os.pathsep)[0])
    if not data.is_dir():
        raise ExportError(
            f"the checkpoint's pair data {data} (task.data) is not found from here "
            "(moved, or relative to another directory); pass --pair DIR, the "
            "prepared pair it was pretrained on"
        )
    try:
        return PreparedPair.load(data)
    except PairError as err:
        raise ExportError(f"{err}; pass --pair DIR, the prepared pair it was pretrained on") from None


def read_checkpoint(path: Path) -> tuple[dict, dict]:
    """(config, state) of a checkpoint, memory-mapped (nothing is built)."""
    import torch

    from alignmlm.checkpoint import checkpoint_config

    try:
        cfg = checkpoint_config(path)
        state = torch.load(str(path), map_location="cpu", mmap=True, weights_only=True)
    except Exception as err:  # a truncated or foreign file: pickle/zip/torch errors alike
        raise ExportError(f"{path}: not a readable fairseq checkpoint ({first_line(err)})") from None
    if "model" not in state:
        raise ExportError(f"{path}: not a fairseq checkpoint (no 'model' weights)")
    return cfg, state


def check_vocabulary(state: dict, pair, checkpoint: Path) -> None:
    """The pair's dictionary must have as many entries as the checkpoint's embeddings."""
    from fairseq.data import Dictionary

    weights = state["model"].get("encoder.sentence_encoder.embed_tokens.weight")
    dictionary = Dictionary.load(str(pair.fairseq_dictionary))
    size = len(dictionary) + 1  # + <mask>, which the masked-LM tasks add
    if weights is not None and weights.shape[0] != size:
        raise ExportError(
            f"{checkpoint} has {weights.shape[0]} token embeddings but the pair "
            f"{pair.root} has {size} tokens (with <mask>): pass --pair, the "
            "prepared pair it was pretrained on"
        )


# ---------------------------------------------------------------------------------------------
# Weights and config


def weight_names(num_layers: int, fairseq_names) -> dict[str, str]:
    """fairseq RobertaEncoder parameter -> transformers RobertaForMaskedLM parameter."""
    # roberta_lang (XLM) adds the positions itself, beside its language embeddings
    lang_model = "embed_positions.weight" in fairseq_names
    positions = "embed_positions.weight" if lang_model else "sentence_encoder.embed_positions.weight"
    names = {
        "sentence_encoder.embed_tokens.weight": "roberta.embeddings.word_embeddings.weight",
        positions: "roberta.embeddings.position_embeddings.weight",
        "lm_head.weight": "lm_head.decoder.weight",
        "lm_head.bias": "lm_head.bias",
    }
    if "embed_langs.weight" in fairseq_names:  # added to the input as token types are
        names["embed_langs.weight"] = "roberta.embeddings.token_type_embeddings.weight"
    pairs = [
        ("sentence_encoder.layernorm_embedding", "roberta.embeddings.LayerNorm"),
        ("lm_head.dense", "lm_head.dense"),
        ("lm_head.layer_norm", "lm_head.layer_norm"),
    ]
    for i in range(num_layers):
        fs, hf = f"sentence_encoder.layers.{i}.", f"roberta.encoder.layer.{i}."
        pairs += [
            (fs + "self_attn.q_proj", hf + "attention.self.query"),
            (fs + "self_attn.k_proj", hf + "attention.self.key"),
            (fs + "self_attn.v_proj", hf + "attention.self.value"),
            (fs + "self_attn.out_proj", hf + "attention.output.dense"),
            (fs + "self_attn_layer_norm", hf + "attention.output.LayerNorm"),
            (fs + "fc1", hf + "intermediate.dense"),
            (fs + "fc2", hf + "output.dense"),
            (fs + "final_layer_norm", hf + "output.LayerNorm"),
        ]
    for fs, hf in pairs:
        for kind in ("weight", "bias"):
            names[f"{fs}.{kind}"] = f"{hf}.{kind}"
    return names


IGNORED_BUFFERS = ("sentence_encoder.version",)  # fairseq's state-dict format marker


def hf_state(encoder) -> dict:
    """transformers' weights of a fairseq RoBERTa encoder, float32."""
    import torch

    state = encoder.state_dict()
    names = weight_names(len(encoder.sentence_encoder.layers), state)
    unmapped = [k for k in state if k not in names and k not in IGNORED_BUFFERS]
    if unmapped:
        raise ExportError(
            f"the encoder has weights transformers' RoBERTa has no place for: {', '.join(unmapped[:4])}"
        )
    ours = {hf: state[fs].detach().float().clone() for fs, hf in names.items()}
    ours["lm_head.decoder.bias"] = ours["lm_head.bias"]  # one bias in HF, seen twice
    key = "roberta.embeddings.token_type_embeddings.weight"
    if key not in ours:  # RoBERTa adds token-type row 0 to every input: a zero row changes nothing
        ours[key] = torch.zeros(1, ours["roberta.embeddings.word_embeddings.weight"].shape[1])
    return ours


def hf_config(settings: Namespace, dictionary, state: dict, metadata: dict):
    from transformers import RobertaConfig

    return RobertaConfig(
        vocab_size=len(dictionary),
        hidden_size=settings.encoder_embed_dim,
        num_hidden_layers=settings.encoder_layers,
        num_attention_heads=settings.encoder_attention_heads,
        intermediate_size=settings.encoder_ffn_embed_dim,
        hidden_act="gelu",
        hidden_dropout_prob=settings.dropout,
        attention_probs_dropout_prob=settings.attention_dropout,
        # fairseq's learned positions start after the padding index, as HF's do
        max_position_embeddings=state["roberta.embeddings.position_embeddings.weight"].shape[0],
        type_vocab_size=state["roberta.embeddings.token_type_embeddings.weight"].shape[0],
        layer_norm_eps=1e-5,  # fairseq's LayerNorm
        pad_token_id=dictionary.pad(),
        bos_token_id=dictionary.bos(),
        eos_token_id=dictionary.eos(),
        tie_word_embeddings=not settings.untie_weights_roberta,
        alignmlm=metadata,
    )


def build_hf_model(config, state: dict):
    from transformers import RobertaForMaskedLM

    model = RobertaForMaskedLM(config)
    expected = set(model.state_dict())
    if set(state) != expected:
        raise ExportError(
            f"weight names do not match transformers' RobertaForMaskedLM: missing "
            f"{sorted(expected - set(state))[:4]}, extra {sorted(set(state) - expected)[:4]}"
        )
    model.load_state_dict(state, strict=True)
    return model.eval()


# ---------------------------------------------------------------------------------------------
# Verification and README


def sample_inputs(task, pair, max_positions: int, has_langs: bool) -> list:
    """[(language, tokens, language id or None)]: the first validation sentences of each
    language as the model saw them (`<s> ... </s>`), a middle token masked."""
    import torch
    from fairseq.data import data_utils

    dictionary = task.source_dictionary
    samples = []
    for lang in task.langs:
        data = data_utils.load_indexed_dataset(str(pair.bin_dir / lang / "valid"), dictionary)
        if data is None:
            continue
        for k in range(min(VERIFY_SENTENCES, len(data))):
            tokens = torch.cat([torch.tensor([dictionary.bos()]), data[k].long()])[:max_positions]
            tokens[len(tokens) // 2] = dictionary.index("<mask>")
            samples.append((lang, tokens, task.langs.index(lang) if has_langs else None))
    return samples


def max_logit_difference(fairseq_model, hf_model, samples: list) -> float:
    import torch

    worst = 0.0
    with torch.no_grad():
        for _lang, tokens, lang_id in samples:
            extra, types = {}, None
            if lang_id is not None:
                types = torch.full_like(tokens, lang_id)[None]
                extra = {"src_lang_ids": types}
            expected = fairseq_model(tokens[None], **extra)[0].float()
            exported = hf_model(input_ids=tokens[None], token_type_ids=types).logits
            worst = max(worst, (expected - exported).abs().max().item())
    return worst


def readme(metadata: dict, config, out_name: str, difference: float, n_samples: int) -> str:
    langs = metadata["languages"]
    mark = metadata["twin_mark"]
    lines = [
        f"# {out_name}: {metadata['objective']} on {' + '.join(langs)}",
        "",
        f"A `transformers` `RobertaForMaskedLM` exported by `alignmlm export-hf` from the fairseq "
        f"checkpoint `{metadata['checkpoint']}` ({metadata['objective']}: task "
        f"`{metadata['task']}`, criterion `{metadata['criterion']}`, architecture "
        f"`{metadata['arch']}`, {metadata['updates']} updates), pretrained on the prepared pair "
        f"`{metadata['pair']}` ({metadata['pair_kind']} pair"
        + (f", transform `{metadata['transform']}`" if metadata["transform"] else "")
        + ").",
        "",
        f"- model: {config.num_hidden_layers} layers, hidden size {config.hidden_size}, "
        f"{config.num_attention_heads} heads, FFN {config.intermediate_size}; vocabulary "
        f"{config.vocab_size} (the pair's joint fairseq dictionary, `<mask>` last); at most "
        f"{metadata['max_positions']} tokens per input, `<s>` and `</s>` included",
        f"- checked at export: largest |logit difference| to the fairseq model "
        f"{difference:.2e} over {n_samples} masked validation sentences",
        "",
        "## Loading",
        "",
        "```python",
        "from transformers import AutoModelForMaskedLM, AutoTokenizer",
        "",
        f'tokenizer = AutoTokenizer.from_pretrained("{out_name}", trust_remote_code=True)',
        f'model = AutoModelForMaskedLM.from_pretrained("{out_name}")',
        "```",
        "",
        f"The tokenizer is `{TOKENIZER_MODULE}.AlignMLMTokenizer` (this directory; it needs "
        "`sentencepiece`), hence `trust_remote_code=True`: the pair's sentencepiece model "
        "(`spm.model`), then the fairseq dictionary (`vocab.json`), giving exactly the ids of "
        "the pretraining data: `<s> ... </s>` for a sentence, `<s> A </s></s> B </s>` for a pair. "
        "It has no fast version (no `word_ids()`); with `is_split_into_words=True` each word is "
        "tokenized on its own, as `alignmlm finetune` does.",
        "",
        "## Text of each language",
        "",
    ]
    for lang in langs:
        if lang == langs[0] or not mark:
            what = "plain text, words separated by spaces"
        else:
            what = (
                f"words in the derived language's order (as `alignmlm transform-conllu` and "
                f"`alignmlm prepare-nli` write them), each written `{mark}word`: its pieces "
                f"are the twins `{mark}piece` of the pieces of `word`"
            )
        lines.append(f"- `{lang}`: {what}")
    if metadata["detach_final_punctuation"]:
        lines += [
            "",
            "The `.`, `!` or `?` run that ends a word is split off it first, as in the "
            "pretraining corpus (not in a text of one word, nor in input already split "
            "into words).",
        ]
    if metadata.get("language_ids"):
        ids = ", ".join(f"`{lang}` = {i}" for lang, i in metadata["language_ids"].items())
        lines += [
            "",
            "## Language ids (XLM)",
            "",
            f"XLM's language embeddings are the token-type embeddings: pass "
            f"`token_type_ids` = the language's id for every token ({ids}), e.g. "
            "`model(**batch, token_type_ids=torch.full_like(batch['input_ids'], 1))`. "
            f"Left out, every token gets id 0 (`{langs[0]}`). With the id given this "
            "model computes the fairseq model's logits for one-language input; for a "
            "TLM pair also pass `position_ids` restarting at the second sentence "
            "(position p is id p + 2).",
        ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------


def current_umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def export(checkpoint: Path, out: Path, pair_dir: Path | None, overwrite: bool) -> dict:
    if not checkpoint.is_file():
        raise ExportError(f"{checkpoint}: checkpoint not found")
    check_output(out, overwrite)
    require_transformers()

    from fairseq.models.roberta import RobertaModel

    from alignmlm import register
    from alignmlm.checkpoint import load_checkpoint
    from alignmlm.models.roberta_lang import RobertaLangModel

    register()
    cfg, state = read_checkpoint(checkpoint)
    arch, settings = model_settings(cfg)
    task_name = check_task(cfg)
    pair = find_pair(cfg["task"]["data"], pair_dir)
    if pair.anchors:  # the exported tokenizer would give anchor pieces their (unused) twins
        raise ExportError(
            f"{pair.root} shares {len(pair.anchors)} anchor pieces between its languages "
            "(--anchor-fraction): the exported tokenizer does not know them yet; export a model "
            "of a pair without anchors"
        )
    check_vocabulary(state, pair, checkpoint)
    try:
        model, task = load_checkpoint(checkpoint, data=pair.bin_dir)
    except Exception as err:
        raise ExportError(
            f"{checkpoint}: cannot be loaded with the pair {pair.root}: {first_line(err)}"
        ) from None
    if type(model) not in (RobertaModel, RobertaLangModel):
        raise ExportError(f"unsupported model {type(model).__name__} built for {arch}")
    # XLM: language embeddings, exported as token types (id = the language's index)
    has_langs = isinstance(model, RobertaLangModel) and model.encoder.embed_langs is not None
    dictionary = task.source_dictionary
    if dictionary.pad() != 1:
        raise ExportError(
            f"the dictionary's padding id is {dictionary.pad()}, not 1 as in "
            "RoBERTa's layout (<s> <pad> </s> <unk>), which transformers' "
            "RoBERTa assumes"
        )
    if "<mask>" not in dictionary.indices or len(dictionary.indices) != len(dictionary):
        raise ExportError(
            "the dictionary has no <mask> or repeats a token: no tokenizer can reproduce its ids"
        )

    max_positions = int(model.encoder.max_positions())
    weights = hf_state(model.encoder)
    rows = weights["roberta.embeddings.position_embeddings.weight"].shape[0]
    if rows != max_positions + dictionary.pad() + 1:
        raise ExportError(
            "the position embeddings do not hold max_positions + padding id + 1 "
            "rows, the layout transformers' RoBERTa reads"
        )
    metadata = {
        "objective": OBJECTIVES[task_name],
        "task": task_name,
        "criterion": (cfg.get("criterion") or {}).get("_name"),
        "arch": arch,
        "checkpoint": str(checkpoint),
        "updates": (state.get("optimizer_history") or [{}])[-1].get("num_updates"),
        "pair": str(pair.root),
        "pair_kind": pair.settings.get("kind"),
        "transform": pair.transform,
        "languages": list(task.langs),
        "twin_mark": twin_mark(pair),
        "detach_final_punctuation": detaches_final_punctuation(pair),
        "max_positions": max_positions,
    }
    if has_langs:
        metadata["language_ids"] = {lang: i for i, lang in enumerate(task.langs)}
    config = hf_config(settings, dictionary, weights, metadata)
    hf_model = build_hf_model(config, weights)

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.export-", dir=out.parent))
    try:
        hf_model.save_pretrained(staging, safe_serialization=True)
        write_tokenizer(staging, dictionary, pair, max_positions)
        from transformers import RobertaForMaskedLM

        reloaded = RobertaForMaskedLM.from_pretrained(staging).eval()
        samples = sample_inputs(task, pair, max_positions, has_langs)
        difference = max_logit_difference(model, reloaded, samples)
        if not difference <= VERIFY_TOLERANCE:
            raise ExportError(
                f"the exported model's logits differ from fairseq's by up to "
                f"{difference:.3g} (allowed {VERIFY_TOLERANCE}); nothing written"
            )
        (staging / "README.md").write_text(
            readme(metadata, config, out.name, difference, len(samples)), encoding="utf-8"
        )
        out.mkdir(exist_ok=True)
        mode = 0o666 & ~current_umask()  # some writers create files private to their owner
        for path in staging.iterdir():  # only our files replace files in OUT
            path.chmod(mode)
            os.replace(path, out / path.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {"difference": difference, "samples": len(samples), "metadata": metadata}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "checkpoint",
        type=Path,
        metavar="CHECKPOINT",
        help="pretraining checkpoint of this plugin (mlm, align_mlm, dict_mlm, xlm)",
    )
    p.add_argument(
        "out", type=Path, metavar="OUT", help="output directory (created; must be empty unless --overwrite)"
    )
    p.add_argument(
        "--pair",
        type=Path,
        help="the prepared pair the checkpoint was pretrained "
        "on, its directory or bin/ (default: the checkpoint's task.data; needed "
        "when that has moved or is relative to another directory)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="write into a non-empty OUT, replacing the files an export writes; other files are left alone",
    )
    return p


@reported
def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    # before fairseq is imported: its import would set up INFO logging on stderr
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        result = export(args.checkpoint, args.out, args.pair, args.overwrite)
    except ExportError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    meta = result["metadata"]
    print(
        f"exported {args.checkpoint} ({meta['objective']}, {meta['arch']}) to {args.out}: "
        f"RobertaForMaskedLM + tokenizer; largest |logit difference| to fairseq "
        f"{result['difference']:.2e} on {result['samples']} validation sentences"
    )
    if meta.get("language_ids"):
        print(
            "language ids (pass as token_type_ids): "
            + ", ".join(f"{lang}={i}" for lang, i in meta["language_ids"].items())
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
