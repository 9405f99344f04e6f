"""Writes the tiny synthetic NER set of this folder (train / valid / test .txt, WikiANN style:
`en:word<TAB>TAG`, blank line between sentences) from templates with PER / LOC / ORG spans;
deterministic: running it again gives the same files.

    python tests/data/ner/make_set.py
"""

import random
from pathlib import Path

PEOPLE = ["John Smith", "Mary", "Anna Lee", "Peter", "David Brown", "Sarah", "Tom Jones", "Lucy"]
PLACES = ["Paris", "New York", "London", "Berlin", "San Francisco", "Rome", "Tokyo", "Cairo"]
ORGS = ["Google", "the United Nations", "Acme Corp", "the BBC", "Red Cross", "Microsoft"]
TEMPLATES = [
    "{PER} lives in {LOC} .",
    "{PER} works for {ORG} in {LOC} .",
    "{ORG} opened an office in {LOC} .",
    "{PER} met {PER2} at the station .",
    "the weather in {LOC} is nice today .",
    "{PER} said that {ORG} will grow .",
    "we visited {LOC} last year .",
    "{ORG} hired {PER} .",
]
ARTICLES = {"the"}  # "the United Nations": the article is outside the span


def tagged(text: str, kind: str) -> list:
    words = text.split()
    out, started = [], False
    for w in words:
        if w in ARTICLES and not started:
            out.append((w, "O"))
            continue
        out.append((w, ("I-" if started else "B-") + kind))
        started = True
    return out


def sentence(rng: random.Random) -> list:
    template = rng.choice(TEMPLATES)
    person, other = rng.sample(PEOPLE, 2)
    fill = {"PER": person, "PER2": other, "LOC": rng.choice(PLACES), "ORG": rng.choice(ORGS)}
    out = []
    for word in template.split():
        if word.startswith("{"):
            key = word.strip("{}")
            out.extend(tagged(fill[key], key.rstrip("2")))
        else:
            out.append((word, "O"))
    return out


def main() -> None:
    here = Path(__file__).parent
    rng = random.Random(1)
    for split, n in (("train", 240), ("valid", 40), ("test", 60)):
        with open(here / f"{split}.txt", "w", encoding="utf-8") as f:
            for _ in range(n):
                f.writelines(f"en:{w}\t{t}\n" for w, t in sentence(rng))
                f.write("\n")


if __name__ == "__main__":
    main()
