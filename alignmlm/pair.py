"""A prepared language pair, as `alignmlm prepare-pair` writes it: the one reader of pair.json.

    PAIR/pair.json     settings, languages, dictionary units, twin offset, statistics
    PAIR/spm.model     the sentencepiece model
    PAIR/dict/{all,train,heldout}.txt   the bilingual dictionary and its split
    PAIR/bin/          fairseq data: dict.txt, LANG/{train,valid}.*, para/ (synthetic pairs,
                       natural pairs prepared with --parallel)

From the shell: `python -m alignmlm.pair PAIR FIELD` prints one field (e.g. `bin_dir`).
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError

MANIFEST = "pair.json"
FORMAT_VERSION = 2  # 2: the bilingual dictionary is split by source word
PARALLEL_SUBDIR = "para"  # bin/para/: the sentence-aligned streams (TLM's) of a pair
ANCHORS_FILE = "anchors.txt"  # dict/anchors.txt: pieces shared by both languages (--anchor-fraction)


class PairError(InputError):
    """A directory that is not a usable prepared pair; the message says why and what to do."""


@dataclass(frozen=True)
class PreparedPair:
    root: Path
    manifest: dict

    @classmethod
    def load(cls, path: Path | str) -> PreparedPair:
        """The pair in `path` (its directory, or its bin/); PairError when there is none."""
        path = Path(path)
        root = path.parent if path.name == "bin" and (path.parent / MANIFEST).is_file() else path
        manifest_path = root / MANIFEST
        if not manifest_path.is_file():
            raise PairError(
                f"{path}: not a prepared pair (no {MANIFEST}); make one with `alignmlm prepare-pair`"
            )
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise PairError(f"{manifest_path}: not valid JSON ({err})") from None
        if not manifest.get("complete"):
            raise PairError(f"{root} holds an unfinished data preparation; run `alignmlm prepare-pair` again")
        version = manifest.get("settings", {}).get("format_version", 1)
        if version != FORMAT_VERSION:
            raise PairError(
                f"{root} was prepared in format {version}, this version reads "
                f"format {FORMAT_VERSION}; prepare it again"
            )
        return cls(root.resolve(), manifest)

    @classmethod
    def of_data(cls, data_path: Path | str) -> PreparedPair | None:
        """The pair whose bin/ is `data_path` (what fairseq's DATA is), or None for a plain
        fairseq data directory."""
        first = Path(str(data_path).split(":")[0]).resolve()  # fairseq's DATA may list shards
        for root in (first.parent, first.parent.parent):  # OUT/bin, or OUT/bin/shardK
            if (root / MANIFEST).is_file():
                return cls.load(root)
        return None

    @property
    def settings(self) -> dict:
        return self.manifest["settings"]

    @property
    def languages(self) -> list[str]:
        return list(self.manifest["languages"])

    @property
    def transform(self) -> str | None:
        return self.settings.get("transform")

    @property
    def bin_dir(self) -> Path:
        return self.root / self.manifest["data"]

    @property
    def shards(self) -> int:
        """1, or the number of fairseq data shards (prepare-pair --shards)."""
        return int(self.manifest.get("shards", 1))

    @property
    def fairseq_data(self) -> str:
        """fairseq's DATA: bin/, or its shards joined by ':' (one per epoch)."""
        if self.shards == 1:
            return str(self.bin_dir)
        return ":".join(str(self.bin_dir / shard_name(k)) for k in range(self.shards))

    @property
    def fairseq_dictionary(self) -> Path:
        return self.bin_dir / "dict.txt"

    @property
    def spm_model(self) -> Path:
        return self.root / self.manifest["spm_model"]

    @property
    def dictionary_units(self) -> str:
        """'pieces' (synthetic pairs: dictionary tokens) or 'words' (natural pairs)."""
        return self.manifest["dictionary_units"]

    @property
    def twin_offset(self) -> int:
        """The derived language's twin of dictionary id i is i + twin_offset (0: no twins)."""
        return int(self.manifest.get("twin_offset", 0))

    @property
    def anchors(self) -> frozenset:
        """Pieces that trans left shared by both languages (prepare-pair --anchor-fraction):
        `§word`'s pieces among them are the original pieces, not twins. Empty: none."""
        path = self.root / "dict" / ANCHORS_FILE
        if not self.manifest.get("anchors") or not path.is_file():
            return frozenset()
        return frozenset(path.read_text(encoding="utf-8").split("\n")) - {""}

    def bilingual_dictionary(self, split: str = "all") -> Path:
        """dict/all.txt, dict/train.txt (what objectives train on) or dict/heldout.txt."""
        return self.root / "dict" / f"{split}.txt"

    def valid_subsets(self) -> str:
        """fairseq's --valid-subset: both languages together, then each alone."""
        return ",".join(["valid"] + [f"valid_{lang}" for lang in self.languages])

    def fingerprint(self) -> str:
        """sha256 of what decides results: the settings, the fairseq and bilingual dictionaries."""
        h = hashlib.sha256(json.dumps(self.settings, sort_keys=True).encode())
        for f in [self.fairseq_dictionary, *sorted((self.root / "dict").glob("*.txt"))]:
            h.update(str(f.relative_to(self.root)).encode())
            h.update(f.read_bytes())
        return h.hexdigest()[:16]


def shard_name(k: int) -> str:
    """bin/shardK: shard K of a sharded pair (prepare-pair --shards, data_prep/shards.py)."""
    return f"shard{k}"


FIELDS = (
    "root",
    "bin_dir",
    "fairseq_data",
    "languages",
    "transform",
    "spm_model",
    "valid_subsets",
    "fingerprint",
)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2 or argv[1] not in FIELDS:
        print(f"usage: python -m alignmlm.pair PAIR_DIR {{{','.join(FIELDS)}}}", file=sys.stderr)
        return 2
    try:
        pair = PreparedPair.load(argv[0])
    except PairError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    value = getattr(pair, argv[1])
    value = value() if callable(value) else value
    print(" ".join(value) if isinstance(value, list) else value)
    return 0


if __name__ == "__main__":
    sys.exit(main())
