"""alignmlm export-hf: a pretraining checkpoint as a transformers RobertaForMaskedLM whose
tokenizer and masked-token logits are fairseq's, for MLM and XLM; and its refusals."""

import json
import sys
from argparse import Namespace
from pathlib import Path

import pytest
import torch

pytest.importorskip("transformers")

from conftest import BUNDLED_CORPUS, run  # noqa: E402

from alignmlm import PLUGIN_DIR  # noqa: E402
from alignmlm.checkpoint import load_checkpoint  # noqa: E402
from alignmlm.cli.export_hf import main  # noqa: E402

TOLERANCE = 1e-4  # max |logit difference| to fairseq's
LOGIT_SENTENCES = 3  # per language

# Run in a fresh interpreter that knows only transformers, as a user's evaluation script would:
# tokenize texts with AutoTokenizer, mask the middle piece, return ids and masked-token logits.
HF_SCRIPT = r"""
import json, sys, torch
from transformers import AutoModelForMaskedLM, AutoTokenizer
out, request, result = sys.argv[1:]
texts = json.load(open(request))
tokenizer = AutoTokenizer.from_pretrained(out, trust_remote_code=True)
model = AutoModelForMaskedLM.from_pretrained(out).eval()
ids = [tokenizer(text)["input_ids"] for text, _ in texts["tokenize"]]
word_ids = [tokenizer(words, is_split_into_words=True)["input_ids"] for words in texts["words"]]
logits = []
for text, lang_id in texts["logits"]:
    batch = tokenizer(text, truncation=True, return_tensors="pt")
    position = batch["input_ids"].shape[1] // 2
    batch["input_ids"][0, position] = tokenizer.mask_token_id
    if lang_id is not None:
        batch["token_type_ids"] = torch.full_like(batch["input_ids"], lang_id)
    with torch.no_grad():
        logits.append((batch["input_ids"][0], position, model(**batch).logits[0, position]))
torch.save({"ids": ids, "word_ids": word_ids, "logits": logits,
            "class": type(tokenizer).__name__}, result)
"""


def hf_side(out: Path, tokenize: list, logits: list, tmp_path: Path, words=()) -> dict:
    request, result = tmp_path / "request.json", tmp_path / "result.pt"
    request.write_text(
        json.dumps({"tokenize": tokenize, "logits": logits, "words": list(words)}), encoding="utf-8"
    )
    # HF_HOME: the remote-code module cache goes there, not to the user's home
    run(
        [sys.executable, "-c", HF_SCRIPT, out, request, result],
        env={"HF_HOME": str(tmp_path / "hf_home"), "HF_HUB_OFFLINE": "1"},
    )
    return torch.load(result, weights_only=False)


def valid_sentences(pair: Path, corpus: Path) -> dict:
    """{language: (raw texts, fairseq ids)} of the pair's validation sentences: the texts as a
    user has them (corpus lines; derived ones in the form prepare-nli writes), the ids as
    prepare-pair binarized them, with the <s> the masked-LM task prepends."""
    from fairseq.data import Dictionary, data_utils

    from alignmlm.data_prep.corpus import read_sentences, valid_mask
    from alignmlm.data_prep.transforms import WordSentenceTransform, parse_transforms, split_final_punctuation

    manifest = json.loads((pair / "pair.json").read_text())
    settings = manifest["settings"]
    sentences = read_sentences(corpus)
    mask = valid_mask(len(sentences), settings["valid_size"], settings["seed"])
    original = [s for s, v in zip(sentences, mask) if v]
    derive = WordSentenceTransform(parse_transforms(settings["transform"]), settings["seed"])
    derived = [" ".join(derive(split_final_punctuation(s).split())[0]) for s in original]
    dictionary = Dictionary.load(str(pair / "bin" / "dict.txt"))
    result = {}
    for lang, texts in zip(manifest["languages"], (original, derived)):
        data = data_utils.load_indexed_dataset(str(pair / "bin" / lang / "valid"), dictionary)
        ids = [[dictionary.bos()] + data[k].tolist() for k in range(len(data))]
        assert len(ids) == len(texts)
        result[lang] = (texts, ids)
    return result


def finetuning_ids(pair: Path, words: list) -> list:
    """`<s> ... </s>` of words as the fine-tuning tasks encode them (tasks/finetuning.py)."""
    import sentencepiece as spm
    from fairseq.data import Dictionary

    from alignmlm.data.twins import word_pieces

    dictionary = Dictionary.load(str(pair / "bin" / "dict.txt"))
    sp = spm.SentencePieceProcessor(model_file=str(pair / "spm.model"))
    ids = [
        dictionary.index(p) for w in words for p in word_pieces(w, lambda text: sp.encode(text, out_type=str))
    ]
    return [dictionary.bos()] + ids + [dictionary.eos()]


def max_difference(model, hf_logits: list, lang_ids: list) -> float:
    """Largest |logit difference| between the fairseq model and HF's at the masked tokens."""
    worst = 0.0
    with torch.no_grad():
        for (tokens, position, theirs), lang_id in zip(hf_logits, lang_ids):
            extra = {} if lang_id is None else {"src_lang_ids": torch.full_like(tokens, lang_id)[None]}
            ours = model(tokens[None], **extra)[0][0, position]
            worst = max(worst, (ours - theirs).abs().max().item())
    return worst


@pytest.fixture(scope="module")
def xlm_checkpoint(tiny_pair, tmp_path_factory) -> Path:
    """A few XLM (MLM + TLM) updates, trained with fairseq-train's own command line (so the
    checkpoint's config is argparse-style; `pretrained` comes from the hydra configs)."""
    save_dir = tmp_path_factory.mktemp("xlm_for_export")
    run(
        [
            sys.executable,
            "-m",
            "fairseq_cli.train",
            tiny_pair / "bin",
            "--user-dir",
            PLUGIN_DIR,
            "--task",
            "xlm",
            "--criterion",
            "masked_lm",
            "--arch",
            "roberta_lang_tiny",
            "--tokens-per-sample",
            "64",
            "--max-tokens",
            "2048",
            "--optimizer",
            "adam",
            "--lr",
            "1e-3",
            "--max-update",
            "8",
            "--disable-validation",
            "--save-dir",
            save_dir,
            "--no-epoch-checkpoints",
            "--num-workers",
            "0",
            "--seed",
            "1",
        ]
    )
    return save_dir / "checkpoint_last.pt"


@pytest.mark.slow
def test_mlm_export_matches_fairseq(pretrained, tiny_pair, tiny_corpus, tmp_path, capsys):
    out = tmp_path / "mlm_hf"
    assert main([str(pretrained), str(out)]) == 0
    assert "largest |logit difference|" in capsys.readouterr().out
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == ["RobertaForMaskedLM"]
    assert config["vocab_size"] == 1003 and config["type_vocab_size"] == 1  # 4 + 2 x 499 + <mask>
    assert config["max_position_embeddings"] == 64 + 2 and config["pad_token_id"] == 1
    assert config["alignmlm"]["objective"] == "MLM"
    assert "language_ids" not in config["alignmlm"]
    assert "trust_remote_code=True" in (out / "README.md").read_text()
    assert (out / "model.safetensors").is_file()

    sentences = valid_sentences(tiny_pair, tiny_corpus)
    tokenize = [[text, None] for texts, _ in sentences.values() for text in texts]
    logits = [[text, None] for texts, _ in sentences.values() for text in texts[:LOGIT_SENTENCES]]
    words = [["Mr.", "Smith", "left", "."], ["§.", "§left", "§Smith", "§Mr."]]  # CoNLL-U style
    hf = hf_side(out, tokenize, logits, tmp_path, words)
    assert hf["class"] == "AlignMLMTokenizer"
    # every validation sentence of both languages: the ids fairseq pretrained on
    assert hf["ids"] == [ids for _, all_ids in sentences.values() for ids in all_ids]
    assert hf["word_ids"] == [finetuning_ids(tiny_pair, w) for w in words]
    corpus = BUNDLED_CORPUS.read_text(encoding="utf-8")  # real sentences of the bundled corpus
    assert all(text in corpus for text in sentences["en"][0][:LOGIT_SENTENCES])
    difference = max_difference(load_checkpoint(pretrained)[0], hf["logits"], [None] * len(logits))
    print(f"MLM: max |logit difference| {difference:.2e}")
    assert difference < TOLERANCE


@pytest.mark.slow
def test_xlm_export_language_ids_are_token_types(xlm_checkpoint, tiny_pair, tiny_corpus, tmp_path):
    out = tmp_path / "xlm_hf"
    proc = run([sys.executable, "-m", "alignmlm", "export-hf", xlm_checkpoint, out])
    assert "language ids (pass as token_type_ids): en=0, en_trans_inv=1" in proc.stdout
    config = json.loads((out / "config.json").read_text())
    assert config["type_vocab_size"] == 2
    assert config["alignmlm"]["language_ids"] == {"en": 0, "en_trans_inv": 1}
    assert "token_type_ids" in (out / "README.md").read_text()

    sentences = valid_sentences(tiny_pair, tiny_corpus)
    logits, lang_ids = [], []
    for lang_id, (texts, _ids) in enumerate(sentences.values()):
        for text in texts[:LOGIT_SENTENCES]:
            logits.append([text, lang_id])
            lang_ids.append(lang_id)
    hf = hf_side(out, [], logits, tmp_path)
    model, _task = load_checkpoint(xlm_checkpoint)
    difference = max_difference(model, hf["logits"], lang_ids)
    print(f"XLM: max |logit difference| {difference:.2e}")
    assert difference < TOLERANCE
    # the language embedding does matter: the other language's id gives other logits
    other = max_difference(model, hf["logits"], [1 - i for i in lang_ids])
    assert other > 100 * TOLERANCE


@pytest.mark.slow
def test_moved_pair_untied_head_and_overwrite(pretrained, tiny_pair, tmp_path, capsys):
    """A checkpoint whose stored pair path is gone needs --pair; an LM head with weights of its
    own (untie_weights_roberta) is exported untied; --overwrite keeps other files."""
    state = torch.load(pretrained, map_location="cpu", weights_only=False)
    state["cfg"]["task"]["data"] = str(tmp_path / "gone" / "bin")
    state["cfg"]["model"]["untie_weights_roberta"] = True
    head = state["model"]["encoder.lm_head.weight"]
    state["model"]["encoder.lm_head.weight"] = head + 0.1 * torch.randn_like(head)
    moved = tmp_path / "moved.pt"
    torch.save(state, moved)
    out = tmp_path / "out"
    assert main([str(moved), str(out)]) == 2
    assert "pass --pair DIR" in capsys.readouterr().err
    assert not out.exists()

    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main([str(moved), str(out), "--pair", str(tiny_pair)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main([str(moved), str(out), "--pair", str(tiny_pair), "--overwrite"]) == 0
    difference = float(capsys.readouterr().out.split("to fairseq ")[1].split()[0])
    assert difference < TOLERANCE  # checked by the export against the fairseq model
    assert (out / "notes.txt").read_text() == "mine"
    assert json.loads((out / "config.json").read_text())["tie_word_embeddings"] is False
    assert not [p for p in tmp_path.iterdir() if ".export-" in p.name]  # staging removed


def fake_checkpoint(path: Path, data: Path, task: str = "multilingual_mlm", **model) -> Path:
    """A checkpoint file with a config and no weights: enough for the checks made before loading."""
    settings = {"arch": "roberta_tiny", **model}
    torch.save(
        {
            "cfg": {
                "model": Namespace(**settings),
                "task": {"_name": task, "data": str(data)},
                "criterion": {"_name": "masked_lm"},
            },
            "model": {},
        },
        path,
    )
    return path


def error_of(argv: list, capsys) -> str:
    assert main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_errors(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    data = tmp_path / "pair" / "bin"
    assert "checkpoint not found" in error_of([tmp_path / "missing.pt", out], capsys)

    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("x")
    ckpt = fake_checkpoint(tmp_path / "mlm.pt", data)
    assert "is not empty" in error_of([ckpt, busy], capsys)
    assert (busy / "keep.txt").read_text() == "x"

    arch = fake_checkpoint(tmp_path / "lm.pt", data, arch="transformer_lm")
    assert "unsupported architecture 'transformer_lm'" in error_of([arch, out], capsys)
    tagger = fake_checkpoint(tmp_path / "tagger.pt", data, arch="roberta_tagger_tiny")
    assert "unsupported architecture 'roberta_tagger_tiny'" in error_of([tagger, out], capsys)
    prenorm = fake_checkpoint(tmp_path / "prenorm.pt", data, encoder_normalize_before=True)
    assert "encoder_normalize_before=True" in error_of([prenorm, out], capsys)
    relu = fake_checkpoint(tmp_path / "relu.pt", data, activation_fn="relu")
    assert "activation_fn='relu'" in error_of([relu, out], capsys)
    finetuned = fake_checkpoint(tmp_path / "nli.pt", data, task="nli")
    assert "not one of the pretraining objectives" in error_of([finetuned, out], capsys)
    assert "pass --pair DIR" in error_of([ckpt, out], capsys)
    assert "--pair" in error_of([ckpt, out, "--pair", tmp_path / "nowhere"], capsys)
    garbage = tmp_path / "garbage.pt"
    garbage.write_text("not a checkpoint")
    assert "not a readable fairseq checkpoint" in error_of([garbage, out], capsys)

    monkeypatch.setitem(sys.modules, "transformers", None)  # as if not installed
    assert "pip install -e .[hf]" in error_of([ckpt, out], capsys)
    assert not out.exists()


def test_error_from_the_command_line(tmp_path):
    """What a user sees: one line on stderr, no traceback, a non-zero exit."""
    proc = run(
        [sys.executable, "-m", "alignmlm", "export-hf", tmp_path / "missing.pt", tmp_path / "out"],
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"error: {tmp_path / 'missing.pt'}: checkpoint not found"]
