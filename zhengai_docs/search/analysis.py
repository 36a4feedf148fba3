"""Text analysis for Chinese search: folding, plain text, words and character grams.

Matching is defined on *folded display text*: the document's visible text with every run of
whitespace collapsed to one space, then ASCII letters lower-cased and full-width ASCII forms
(Ａ, １, （) mapped to their half-width forms. Folding never changes a string's length, so a
match found in folded text is at the same offsets in the display text (snippets need that).

Two analyses feed the index:
- character grams (every character, every overlapping pair with its position) make any
  substring findable exactly; see `schema`.
- words from rjieba (jieba's dictionary in Rust, ~30x faster, same tokens) with a domain user
  dictionary rank whole-word matches first. `WordTokenizer` is phrase-safe: accurate-mode words
  get consecutive positions and the dictionary words inside a long word share its position, so
  phrase queries over words still work.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rjieba
from whoosh.analysis import Token, Tokenizer

USER_DICTIONARY = Path(__file__).resolve().parent.parent / "data" / "userdict.txt"
ANALYSIS_VERSION = "1"  # bump when tokenization changes in a way that needs a reindex


def _fold_table() -> dict[int, int]:
    table = {ord(c): ord(c.lower()) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
    for code in range(0xFF01, 0xFF5F):  # full-width ASCII forms
        table[code] = ord(chr(code - 0xFEE0).lower())
    table[0x3000] = 0x20  # ideographic space
    return table


_FOLD = _fold_table()


def fold(text: str) -> str:
    """Case- and width-insensitive form of `text`, with the same length."""
    return text.translate(_FOLD)


def collapse(text: str) -> str:
    """Every run of whitespace (line breaks, ideographic spaces) becomes one space."""
    return " ".join(text.split())


# -- plain text from Markdown -------------------------------------------------------------------

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+")
_QUOTE = re.compile(r"^\s*(>\s?)+")
_LIST = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_EMPHASIS = re.compile(r"\*\*|__|`")
_TRAILING_HASHES = re.compile(r"\s+#+\s*$")


def plain_text(markdown: str) -> str:
    """The text a reader sees, roughly: Markdown markup removed, line structure kept."""
    lines = []
    for line in markdown.splitlines():
        if _FENCE.match(line) or _TABLE_RULE.match(line):
            continue
        if _HEADING.match(line):
            line = _TRAILING_HASHES.sub("", _HEADING.sub("", line))
        line = _LIST.sub("", _QUOTE.sub("", line))
        if line.lstrip().startswith("|"):
            line = line.replace("|", " ")
        line = _EMPHASIS.sub("", _TAG.sub("", _LINK.sub(r"\1", line)))
        lines.append(line)
    return "\n".join(lines)


def search_text(*, title: str, doc_number: str | None, body_text: str) -> str:
    """The display text a query is matched against: title, issuing number, then the body."""
    return collapse("\n".join(part for part in (title, doc_number or "", body_text) if part))


# -- words --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserWord:
    word: str
    freq: int | None


def read_user_dictionary(path: Path = USER_DICTIONARY) -> tuple[UserWord, ...]:
    """`word [frequency]` per line; blank lines and # comments are ignored."""
    words = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        words.append(UserWord(word=fold(parts[0]), freq=freq))
    return tuple(words)


_segmenter: Any = None
_segmenter_lock = threading.Lock()


def segmenter() -> Any:
    """One rjieba instance per process with the user dictionary (jieba's global stays untouched)."""
    global _segmenter
    if _segmenter is None:
        with _segmenter_lock:
            if _segmenter is None:
                instance = rjieba.Jieba()
                for entry in read_user_dictionary():
                    instance.add_word(entry.word, entry.freq, None)
                _segmenter = instance
    return _segmenter


def dictionary_fingerprint() -> str:
    """Identifies the analysis an index was built with; a different one calls for a reindex."""
    digest = hashlib.sha256(ANALYSIS_VERSION.encode() + b"\0" + USER_DICTIONARY.read_bytes())
    return digest.hexdigest()[:16]


def _is_wordlike(word: str) -> bool:
    return any(ch.isalnum() for ch in word)


def query_words(text: str) -> list[str]:
    """Accurate-mode words of a (folded) query term, punctuation dropped."""
    return [w for w in segmenter().cut(fold(text), hmm=False) if _is_wordlike(w)]


def inner_words(word: str) -> Iterator[str]:
    """Dictionary words inside a longer word (all of them, unlike jieba's search mode)."""
    seg = segmenter()
    for size in range(2, len(word)):
        for start in range(len(word) - size + 1):
            piece = word[start : start + size]
            if seg.has_word(piece):
                yield piece


class WordTokenizer(Tokenizer):  # type: ignore[misc]
    """Phrase-safe rjieba tokenizer (module level: the schema is pickled with the index)."""

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self))

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: Any,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        text = fold(value)
        if not tokenize:
            token.original = token.text = text
            token.boost = 1.0
            if positions:
                token.pos = start_pos
            if chars:
                token.startchar, token.endchar = start_char, start_char + len(text)
            yield token
            return
        seg = segmenter()
        pos = start_pos
        for word, start, end in seg.tokenize(text, "default", False):
            if not _is_wordlike(word):
                continue
            pieces = [word] if mode == "query" or len(word) < 3 else [word, *inner_words(word)]
            for piece in pieces:
                token.text = piece
                token.boost = 1.0
                token.stopped = False
                if keeporiginal:
                    token.original = piece
                if positions:
                    token.pos = pos
                if chars:
                    token.startchar, token.endchar = start_char + start, start_char + end
                yield token
            pos += 1


# -- character grams ----------------------------------------------------------------------------


def unigram_counts(folded: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for ch in folded:
        if ch != " ":
            counts[ch] = counts.get(ch, 0) + 1
    return counts


def bigram_positions(folded: str) -> dict[str, list[int]]:
    """Every overlapping pair of characters with the positions it starts at."""
    positions: dict[str, list[int]] = {}
    for index in range(len(folded) - 1):
        pair = folded[index : index + 2]
        found = positions.get(pair)
        if found is None:
            positions[pair] = [index]
        else:
            found.append(index)
    return positions
