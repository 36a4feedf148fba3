"""Text analysis for Chinese search: folding, display text, words and character pairs.

Matching is defined on *folded display text*: the document's visible text with every run of
whitespace collapsed to one space, then ASCII letters lower-cased and full-width ASCII forms
(Ａ, １, （) mapped to their half-width forms. Folding never changes a string's length, so a
match found in folded text is at the same offsets in the display text (snippets need that).

Two analyses feed the index:
- character pairs (every overlapping two-character gram) select candidate documents for any
  query of two or more characters; the folded text itself then confirms the exact match;
- words from rjieba (jieba's dictionary and algorithm in Rust, ~30x faster, same tokens) with
  the domain user dictionary rank whole-word matches first. Each accurate-mode word is indexed
  together with every dictionary word inside it, which is jieba's search mode made complete:
  after 双师型 is in the dictionary, search mode alone would no longer yield 双师.
"""

from __future__ import annotations

import hashlib
import html
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from types import ModuleType

USER_DICTIONARY = Path(__file__).resolve().parent.parent / "data" / "userdict.txt"
ANALYSIS_VERSION = "4"  # bump when analysis changes in a way that calls for a reindex


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


# -- display text from Markdown -----------------------------------------------------------------

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+")
_QUOTE = re.compile(r"^\s*(>\s?)+")
_LIST = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_TRAILING_HASHES = re.compile(r"\s+#+\s*$")
_DIAGRAM_LABEL = re.compile(r"\[([^\]]*)\]|\(([^)]*)\)|\{([^}]*)\}|\|([^|]*)\|")
# Inline markup, in the order Python-Markdown (render/html.py) applies it. Each pattern mirrors the
# renderer's own, so that the indexed text is the text a reader sees; tests compare the two.
_REFERENCE = re.compile(r"^\s{0,3}\[([^\]]+)\]:\s*\S.*$")  # "[1]: http://…", "[^1]: 脚注": not shown
_CODE_SPAN = re.compile(r"(?<!\\)(`+)(.+?)(?<!`)\1(?!`)")
_ESCAPED = re.compile(r"\\([\\`*_{}\[\]()>#+\-.!])")
_AUTOLINK = re.compile(r"<((?:https?|ftp|mailto):[^>\s]+|[^@\s<>]+@[^@\s<>]+)>", re.IGNORECASE)
_LINK = re.compile(r"!?\[([^\]]*)\]\((?:[^()\s]|\([^()]*\))*(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE_LINK = re.compile(r"!?\[([^\]]+)\]\s?\[([^\]]*)\]")
_SHORT_REFERENCE = re.compile(r"!?\[([^\]]+)\]")
_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_STARS = (  # ***都***, **粗体**, *强调*, 2*3*4 (intraword too); strong first, so that **a*b*c** nests
    re.compile(r"\*\*\*(?!\s)(.+?)(?<!\s)\*\*\*"),
    re.compile(r"\*\*(?![\s*])(.+?)(?<![\s*])\*\*"),
    re.compile(r"\*(?![\s*])([^*]+?)(?<!\s)\*"),
)
_UNDERSCORES = re.compile(r"(?<!\w)(_{1,3})(?![\s_])(.+?)(?<![\s_])\1(?!\w)")  # _强调_, __粗__, not a_b_c
_PROTECTED = 0xE000  # escaped characters wait in the private use area while emphasis is removed


def _protect(match: re.Match[str]) -> str:
    return chr(_PROTECTED + ord(match.group(1)))


def _unprotect(text: str) -> str:
    return "".join(chr(ord(c) - _PROTECTED) if _PROTECTED <= ord(c) < _PROTECTED + 128 else c for c in text)


def _inline_text(line: str, references: set[str]) -> str:
    """What a reader sees of one line of Markdown: code spans verbatim, everything else without
    emphasis, links, tags, backslash escapes and HTML entities."""
    parts = []
    position = 0
    for code in _CODE_SPAN.finditer(line):
        parts.append(_markup_text(line[position : code.start()], references))
        parts.append(code.group(2).strip())
        position = code.end()
    parts.append(_markup_text(line[position:], references))
    return "".join(parts)


def _markup_text(text: str, references: set[str]) -> str:
    text = _ESCAPED.sub(_protect, text)
    text = _AUTOLINK.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _REFERENCE_LINK.sub(lambda m: m.group(1) if (m.group(2) or m.group(1)).lower() in references else m.group(0), text)
    text = _SHORT_REFERENCE.sub(lambda m: m.group(1) if m.group(1).lower() in references else m.group(0), text)
    text = _TAG.sub("", text)
    for pattern in _STARS:
        text = pattern.sub(r"\1", text)
    text = _UNDERSCORES.sub(r"\2", text)
    return _unprotect(html.unescape(text))


def plain_text(markdown: str) -> str:
    """The text a reader sees: Markdown markup removed, line structure kept.

    A Mermaid diagram (a 流程's flowchart) is reduced to its node and edge labels.
    """
    lines = []
    fence: str | None = None
    source = markdown.splitlines()
    references = {m.group(1).lower() for line in source if (m := _REFERENCE.match(line))}
    for line in source:
        opening = _FENCE.match(line)
        if opening:
            fence = None if fence else line.strip()
            continue
        if fence is not None:
            if fence.endswith("mermaid"):
                labels = ("".join(groups).strip("\"'[](){} ") for groups in _DIAGRAM_LABEL.findall(line))
                lines.append(" ".join(label for label in labels if label))
            else:
                lines.append(line)
            continue
        if _TABLE_RULE.match(line) or _REFERENCE.match(line):
            continue
        if _HEADING.match(line):
            line = _TRAILING_HASHES.sub("", _HEADING.sub("", line))
        line = _LIST.sub("", _QUOTE.sub("", line))
        if line.lstrip().startswith("|"):
            line = line.replace("|", " ")
        lines.append(_inline_text(line, references))
    return "\n".join(lines)


def search_text(*, title: str, doc_number: str | None, body_text: str) -> str:
    """The display text a query is matched against: title, issuing number, then the body."""
    return collapse("\n".join(part for part in (title, doc_number or "", body_text) if part))


def pairs(folded: str) -> set[str]:
    """Every overlapping pair of characters (the index's character-gram terms)."""
    return {folded[i : i + 2] for i in range(len(folded) - 1)}


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


_segmenter: ModuleType | None = None
_segmenter_lock = threading.Lock()


def segmenter() -> ModuleType:
    """rjieba with the user dictionary, loaded on first use (0.1 s, ~33 MiB per process).

    The module's own default instance is used: a second `rjieba.Jieba()` would cost another
    ~24 MiB in every worker process, and nothing else in the process uses rjieba.
    """
    global _segmenter
    if _segmenter is None:
        with _segmenter_lock:
            if _segmenter is None:
                import rjieba

                for entry in read_user_dictionary():
                    rjieba.add_word(entry.word, entry.freq, None)
                _segmenter = rjieba
    return _segmenter


def analysis_fingerprint() -> str:
    """Identifies the word analysis an index was built with (tokenizer version and dictionary)."""
    digest = hashlib.sha256(f"{ANALYSIS_VERSION}\0{version('rjieba')}\0".encode() + USER_DICTIONARY.read_bytes())
    return digest.hexdigest()[:16]


def _is_wordlike(word: str) -> bool:
    return any(ch.isalnum() for ch in word)


def query_words(term: str) -> list[str]:
    """Accurate-mode words of a folded query term, punctuation and spaces dropped."""
    return [w for w in segmenter().cut(term, hmm=False) if _is_wordlike(w)]


def inner_words(word: str) -> Iterator[str]:
    """Dictionary words inside a longer word (all of them, unlike jieba's search mode)."""
    seg = segmenter()
    for size in range(2, len(word)):
        for start in range(len(word) - size + 1):
            piece = word[start : start + size]
            if seg.has_word(piece):
                yield piece


def index_words(folded: str) -> set[str]:
    """The words a document is indexed under: accurate-mode words and the words inside them."""
    words: set[str] = set()
    for word in segmenter().cut(folded, hmm=False):
        if _is_wordlike(word) and word not in words:
            words.add(word)
            if len(word) > 2:
                words.update(inner_words(word))
    return words
