"""Writes the tiny synthetic NLI set of this folder (train / valid / test .jsonl) from templates;
deterministic: running it again gives the same files.

    python tests/data/nli/make_set.py
"""
import json
import random
from pathlib import Path

PEOPLE = ["man", "woman", "boy", "girl", "teacher", "doctor", "child", "student", "driver", "player"]
ACTIONS = ["reading a book", "eating dinner", "writing a letter", "running", "sleeping",
           "working", "waiting", "talking"]
PLACES = ["in the park", "at home", "in the kitchen", "at school", "in the office", "in the car",
          "on the bus", "in the garden"]


def hypotheses(person: str, action: str, place: str, other_place: str) -> dict:
    """Hypotheses of each label for `The PERSON is ACTION PLACE .`"""
    return {
        "entailment": [f"A {person} is {action} .", f"Someone is {place} .",
                       f"The {person} is {place} ."],
        "neutral": [f"The {person} is {action} with a friend .", f"The {person} is happy .",
                    f"The {person} is {action} {place} every day ."],
        "contradiction": [f"The {person} is not {action} .", f"Nobody is {place} .",
                          f"The {person} is {other_place} ."],
    }


def examples(seed: int = 1) -> list:
    rng = random.Random(seed)
    premises = [(p, a, pl) for p in PEOPLE for a in ACTIONS for pl in PLACES]
    rng.shuffle(premises)
    labels = ["entailment", "neutral", "contradiction"]
    out = []
    for k, (person, action, place) in enumerate(premises[:150]):
        label = labels[k % 3]
        other = rng.choice([p for p in PLACES if p != place])
        hypothesis = rng.choice(hypotheses(person, action, place, other)[label])
        out.append({"premise": f"The {person} is {action} {place} .", "hypothesis": hypothesis,
                    "label": label})
    return out


def main() -> None:
    here = Path(__file__).parent
    data = examples()
    for split, part in (("train", data[:96]), ("valid", data[96:120]), ("test", data[120:])):
        with open(here / f"{split}.jsonl", "w", encoding="utf-8") as f:
            f.writelines(json.dumps(ex) + "\n" for ex in part)


if __name__ == "__main__":
    main()
