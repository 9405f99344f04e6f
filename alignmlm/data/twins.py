"""The surface form of the script-changed language (`trans`): every piece has a twin that
carries a prefix the original vocabulary never uses. A CoNLL-U word of that language is
written with the prefix once (`§word`); its pieces are the twins of the word's pieces."""

TWIN_MARK = "§"


def twin_piece(piece: str) -> str:
    """Surface form of a piece in the script-changed language."""
    return TWIN_MARK + piece


def word_pieces(word: str, encode, anchors: frozenset = frozenset()) -> list:
    """Pieces of a word; `encode(text) -> pieces` is the pair's sentencepiece model. ANCHORS:
    pieces the script change leaves as they are (prepare-pair --anchor-fraction), in both
    languages."""
    if word.startswith(TWIN_MARK) and len(word) > len(TWIN_MARK):
        return [p if p in anchors else twin_piece(p) for p in encode(word[len(TWIN_MARK):])]
    return encode(word)
