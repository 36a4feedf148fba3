"""The trailer block: the records the product adds to a commit message, and their only reader.

An approval (`Approved-by:`, `Document-number:` …) and a "reviewed, no change" (`Review:
no-change` …) are written into the commit message of the change they record. The rest of a
message is text people type or name: a 修订说明, a reason, a title, an imported file's name. So
trailers follow git's own rule (`git interpret-trailers --parse`), read strictly:

- they are the **last paragraph** of the message, after at least one other paragraph;
- **every line** of that paragraph is `Key: value` with a key the product writes.

`commit_message` is the writer, and it is what keeps user text from ever forming that block:
the product's values are folded into one line each and its block always comes last; text given
without product trailers whose own last paragraph would read as a block (typed as a 修订说明,
passed on the command line, taken from a file name) is folded into one line. Text before the
block is never read for trailers: a reason that contains `Approved-by: …` or `Review: no-change`
is shown as typed and records nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from zhengai_docs.errors import Refused

DRAFT = "Draft"
APPROVED_BY = "Approved-by"
APPROVAL_MEETING = "Approval-meeting"
DOCUMENT_NUMBER = "Document-number"
ISSUE_DATE = "Issue-date"
REVIEWED_BY = "Reviewed-by"
PUBLISHED_BY = "Published-by"
REVIEW = "Review"
REVIEW_DATE = "Review-date"
KEYS = frozenset({DRAFT, APPROVED_BY, APPROVAL_MEETING, DOCUMENT_NUMBER, ISSUE_DATE, REVIEWED_BY, PUBLISHED_BY, REVIEW, REVIEW_DATE})
NO_CHANGE = "no-change"
NO_CHANGE_LINE = f"{REVIEW}: {NO_CHANGE}"  # for a cheap SQL pre-filter; `is_no_change_review` decides

_TRAILER = re.compile(r"([A-Za-z][A-Za-z0-9-]*): (\S.*)")
# Every character Python's str.splitlines() breaks on: a one-line field holds none of them.
_LINE_BREAK = re.compile(r"[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
_WHITESPACE = re.compile(r"\s+")


def trailer_block(message: str) -> Mapping[str, str]:
    """The product's trailers of a commit message (empty when its last paragraph is not one).

    A repeated key is not something the product writes, so it voids the block as well.
    """
    return _split(message)[1]


def without_trailer_block(message: str) -> str:
    """The message as people wrote it: everything but the product's trailer block."""
    return _split(message)[0]


def _split(message: str) -> tuple[str, dict[str, str]]:
    """(the text before the trailer block, the block's trailers); the whole text and {} without one."""
    text = message.strip()
    lines = text.split("\n")
    blank = [i for i, line in enumerate(lines) if not line.strip()]
    if not blank:
        return text, {}  # one paragraph: a subject, never trailers
    found: dict[str, str] = {}
    for line in lines[blank[-1] + 1 :]:
        match = _TRAILER.fullmatch(line.rstrip())
        if match is None or match[1] not in KEYS or match[1] in found:
            return text, {}
        found[match[1]] = match[2]
    return "\n".join(lines[: blank[-1]]).strip(), found


def is_no_change_review(message: str) -> bool:
    """Does this commit record a "reviewed, no change" (审核未修订) — in the product's own block?"""
    return trailer_block(message).get(REVIEW) == NO_CHANGE


def commit_message(text: str, *, trailers: Sequence[tuple[str, str]] = ()) -> str:
    """`text` with the product's `trailers` as its last paragraph.

    Without trailers, a `text` whose own last paragraph would read as a trailer block is folded
    into one line: nothing but this function's `trailers` argument can produce a block.
    """
    body = text.strip()
    if not trailers:
        return one_line(body) if trailer_block(body) else body
    lines = []
    for key, value in trailers:
        folded = one_line(value)
        if key not in KEYS or not folded:
            raise ValueError(f"not a trailer the product writes: {key}: {value!r}")
        lines.append(f"{key}: {folded}")
    return f"{body}\n\n" + "\n".join(lines)


def one_line(text: str) -> str:
    """Text folded into one line: every run of white space (line breaks included) becomes one space."""
    return _WHITESPACE.sub(" ", text).strip()


def has_line_break(text: str) -> bool:
    return _LINE_BREAK.search(text) is not None


def require_one_line(text: str, *, label: str) -> str:
    """A one-line field as given, refused when it holds a line break (the forms say so first)."""
    if has_line_break(text):
        raise Refused(f"{label}只能写成一行，请去掉其中的换行")
    return text
