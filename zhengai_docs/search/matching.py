"""Exact matching and ranking over a Whoosh reader, one segment at a time.

For each segment: the postings of a term's rarest character pairs select candidates, the filter
fields' postings restrict them, and each remaining candidate's folded text (its match record,
read once per segment and kept in memory) confirms every term with a substring test. Results
are therefore exact — no false positive, no miss. The ranking is

    all terms in the title  >  number of terms found as whole words  >  BM25 weight of the counts

The first two are the *tier*. A segment never changes (only its deletions do), so where a term
occurs in it — which documents, whether in the title, whether as a whole word, how often — is
worked out once per process (`TermInSegment`) and remembered with the segment's records; a
query then only combines these, leaves out deleted, repealed and filtered documents, and ranks.
`page` computes the BM25 weight only in the tiers that reach the page asked for. With saves
adding a small segment each until a merge, a query no longer reads postings from every segment.

Whoosh's own query objects are not used for the text: a phrase over pair positions is exact too,
but decoding positions in pure Python made a 5,000-document search take 30–460 ms.
"""

from __future__ import annotations

import functools
import heapq
import math
import threading
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import accumulate, compress, repeat
from operator import and_, itemgetter, not_
from typing import Any, NamedTuple

from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.matching.wrappers import FilterMatcher
from whoosh.support.levenshtein import distance

from zhengai_docs.search.analysis import pairs, query_words
from zhengai_docs.search.backend import REPEALED, SearchFilters, Sort
from zhengai_docs.search.schema import SMALL_SEGMENT, STATE_ID, MatchRecord, split_words, word_mark

_MAX_PAIRS = 3  # candidates from the three rarest pairs of a term; the text check does the rest
_K1, _B = 1.2, 0.75


_MEMO_ENTRIES = 1024  # filter look-ups remembered per small segment (cleared when full)
_MEMO_TERMS = 256  # terms remembered per segment: ~9 bytes per matching document each


class TermInSegment(NamedTuple):
    """Where one term occurs in one segment: as immutable as the segment, so worked out once."""

    rarest: int | None  # documents holding its rarest character pair (None: a single character)
    docnums: array[int]  # documents whose match text contains it, deleted ones included
    flags: bytes  # per document: 1 in the title, 2 found as a whole word
    counts: array[int]  # per document: occurrences in the title, issuing number and body


@dataclass(frozen=True)
class SegmentRecords:
    """A segment's match records and what never changes with it: the documents it holds as
    repealed, its terms' occurrences, look-ups already made (deletions are not kept here)."""

    records: tuple[MatchRecord | None, ...]
    average_length: float
    repealed: frozenset[int] = frozenset()
    wordlists: tuple[str, ...] = ()  # a small segment's words per document (`schema.small_fields`)
    terms: dict[str, TermInSegment] = field(default_factory=dict, compare=False)
    memo: dict[tuple[str, str], frozenset[int]] = field(default_factory=dict, compare=False)

    @property
    def small(self) -> bool:
        return len(self.records) <= SMALL_SEGMENT

    def term(self, leaf: Any, term: str) -> TermInSegment:
        found = self.terms.get(term)
        if found is None:
            found = _scan(leaf, self, term)
            if len(self.terms) >= _MEMO_TERMS:
                self.terms.clear()  # threads share it: a plain dict's single operations are atomic
            self.terms[term] = found
        return found

    @functools.cached_property
    def _codes(self) -> dict[str, tuple[int, ...]]:
        """Each code's documents (deleted ones too), the state entry's under `STATE_ID`."""
        where: dict[str, list[int]] = {}
        for docnum, record in enumerate(self.records):
            where.setdefault(STATE_ID if record is None else record.code, []).append(docnum)
        return {code: tuple(numbers) for code, numbers in where.items()}

    def docnums(self, code: str) -> tuple[int, ...]:
        """Where `code` is in this segment, without a reader: for an index writer's deletions."""
        return self._codes.get(code, ())

    def ids(self, leaf: Any, fieldname: str, text: str) -> Iterable[int]:
        """`posting_ids`, remembered for a small segment (filters look up every segment), whose
        words are in its `wordlist` column."""
        if not self.small:
            return posting_ids(leaf, fieldname, text)
        key = (fieldname, text)
        found = self.memo.get(key)
        if found is None:
            found = frozenset(posting_ids(leaf, fieldname, text))
            if fieldname == "words" and self.wordlists:
                mark = word_mark(text)
                found |= {docnum for docnum, words in enumerate(self.wordlists) if mark in words}
            if len(self.memo) >= _MEMO_ENTRIES:
                self.memo.clear()
            self.memo[key] = found
        return found

    @functools.cached_property
    def vocabulary(self) -> Counter[str]:
        """The words of the `wordlist` column, with the number of documents holding each."""
        return Counter(word for words in self.wordlists for word in split_words(words))

    def words_within(self, term: str, maxdist: int) -> Iterator[tuple[str, int]]:
        """The column's words within `maxdist` edits of `term` that start as it does, with their
        document counts: what Whoosh's `terms_within(prefix=1)` finds among postings."""
        for word, documents in self.vocabulary.items():
            if word[:1] == term[:1] and distance(word, term, limit=maxdist) <= maxdist:
                yield word, documents


class RecordCache:
    """Match records per segment. Segments never change (deletions are kept apart), so each is
    read from its column once per process; segments that left the index are dropped."""

    def __init__(self) -> None:
        self._segments: dict[str, SegmentRecords] = {}
        self._lock = threading.Lock()

    def records(self, leaf: Any) -> SegmentRecords:
        segment_id = leaf.segment().segment_id()
        found = self._segments.get(segment_id)
        if found is None:
            if not leaf.has_column("record") and leaf.doc_count_all() > (1 if ("code", STATE_ID) in leaf else 0):
                # documents without their records: the column file was deleted by a merge in
                # another process (Whoosh would read it as empty); the caller opens the index again
                raise FileNotFoundError(f"segment {segment_id} was merged away")
            records = tuple(MatchRecord.decode(raw) for raw in _column(leaf, "record"))
            lengths = [len(r.text) for r in records if r is not None]
            found = SegmentRecords(
                records=records,
                average_length=sum(lengths) / len(lengths) if lengths else 1.0,
                repealed=frozenset(posting_ids(leaf, "status", REPEALED)),
                wordlists=tuple(raw.decode("utf-8") for raw in _column(leaf, "wordlist")) if len(records) <= SMALL_SEGMENT else (),
            )
            with self._lock:
                self._segments[segment_id] = found
        return found

    def known(self, segment_id: str) -> SegmentRecords | None:
        """The records of a segment this process has read, or None."""
        return self._segments.get(segment_id)

    def retain(self, segment_ids: Iterable[str]) -> None:
        keep = set(segment_ids)
        with self._lock:
            self._segments = {k: v for k, v in self._segments.items() if k in keep}


def _column(leaf: Any, fieldname: str) -> list[bytes]:
    """Every value of a column, read once (empty ones when the segment has no such column)."""
    if not leaf.has_column(fieldname):
        return [b""] * leaf.doc_count_all()
    column = leaf.column_reader(fieldname, translate=False)
    values = [column[n] for n in range(leaf.doc_count_all())]
    _release_column(leaf, fieldname)
    return values


def _release_column(leaf: Any, fieldname: str) -> None:
    """Close a column file the segment reader would keep for its whole life.

    Whoosh 2.7.4 (pinned) keeps every column it opened, and in a compound segment an opened
    file is a copy of its bytes: the records' column is as large as the decoded records, and
    it is never read again once they are cached.
    """
    opened = getattr(getattr(leaf, "_perdoc", None), "_colfiles", None)
    if isinstance(opened, dict) and fieldname in opened:
        opened.pop(fieldname)[0].close()


TITLE, WHOLE_WORD = 1e6, 1e4  # rank tiers; the BM25 weight stays far below 1e4
_BASE = _K1 * (1 - _B)
# (-tier, docnum, record, BM25 length slope of its segment, occurrences: of the term, or per term)
Found = tuple[float, int, MatchRecord, float, int | tuple[int, ...]]
_NEGATED_TIERS = (-0.0, -TITLE, -WHOLE_WORD, -(TITLE + WHOLE_WORD))  # by TermInSegment flag


@dataclass(frozen=True)
class Matches:
    """Every match of a query (plain tuples, thousands per query), unordered."""

    found: list[Found]
    terms: tuple[str, ...]
    factors: tuple[float, ...]  # idf x (k1 + 1) per term

    def __len__(self) -> int:
        return len(self.found)


class Match(NamedTuple):
    """A match with its full rank, for the documents actually shown."""

    key: float  # -(TITLE if all terms in the title + WHOLE_WORD per whole-word term + BM25 weight)
    docnum: int
    record: MatchRecord

    @property
    def title_match(self) -> bool:
        return -self.key >= TITLE

    @property
    def score(self) -> float:
        return -self.key


def posting_ids(leaf: Any, fieldname: str, text: str | bytes) -> list[int]:
    """Document numbers of one term in one segment, deleted documents included.

    Decodes whole posting blocks when the matcher is Whoosh 2.7.4's block reader (its ids are
    delta-encoded: `accumulate` undoes that in C, ~10x faster than one method call per
    posting); any other matcher goes through the public `all_ids()`.
    """
    if (fieldname, text) not in leaf:
        return []
    matcher = leaf.postings(fieldname, text)
    while isinstance(matcher, FilterMatcher):  # deletions are checked by the caller
        matcher = matcher.child
    if not isinstance(matcher, W3LeafMatcher) or matcher._byteids:
        return list(matcher.all_ids())
    ids: list[int] = []
    while matcher.is_active():
        matcher._read_data()
        ids.extend(accumulate(matcher._data[0]))
        matcher._next_block()
    return ids


def find(reader: Any, cache: RecordCache, *, terms: Sequence[str], filters: SearchFilters) -> Matches:
    """Every live document that contains all `terms` and passes `filters` (unordered)."""
    leaves = reader.leaf_readers()
    segments = [cache.records(leaf) for leaf, _ in leaves]
    occurrences = [[segment.term(leaf, t) for t in terms] for (leaf, _), segment in zip(leaves, segments, strict=True)]
    idf = _idf([leaf.doc_count() for leaf, _ in leaves], occurrences, len(terms))
    matches: list[Found] = []
    for (leaf, offset), segment, entries in zip(leaves, segments, occurrences, strict=True):
        matches += _find_in_segment(leaf, offset, segment, entries=entries, filters=filters)
    return Matches(found=matches, terms=tuple(terms), factors=tuple(w * (_K1 + 1) for w in idf))


def _find_in_segment(
    leaf: Any, offset: int, segment: SegmentRecords, *, entries: Sequence[TermInSegment], filters: SearchFilters
) -> list[Found]:
    allowed = _allowed(leaf, segment, filters)
    excluded = set(leaf.segment().deleted_docs())
    if not filters.statuses:
        excluded.update(segment.repealed)
    first = filters.issued_from.isoformat() if filters.issued_from else ""
    last = filters.issued_to.isoformat() if filters.issued_to else "9999"
    dated = filters.issued_from is not None or filters.issued_to is not None
    records = segment.records
    slope = _K1 * _B / segment.average_length
    found: list[Found] = []
    append = found.append
    if len(entries) == 1:  # the common case, thousands of documents per query: no Python loop
        docnums = entries[0].docnums
        rows: Iterable[Found] = zip(
            map(_NEGATED_TIERS.__getitem__, entries[0].flags),
            map(offset.__add__, docnums),
            map(records.__getitem__, docnums),  # type: ignore[arg-type]  # a term's documents have records
            repeat(slope),
            entries[0].counts,
        )
        wanted: Iterable[bool] = map(not_, map(excluded.__contains__, docnums))
        if allowed is not None:
            wanted = map(and_, wanted, map(allowed.__contains__, docnums))
        found = list(compress(rows, wanted))
        if dated:
            found = [f for f in found if f[2].issued and first <= f[2].issued <= last]
        return found
    if not entries:  # filters alone
        for docnum in allowed if allowed is not None else range(len(records)):
            record = records[docnum]
            if record is None or docnum in excluded or (dated and not (record.issued and first <= record.issued <= last)):
                continue
            append((-0.0, offset + docnum, record, slope, ()))
        return found
    # several terms: documents holding every one (the rarest first), with each term's flags and count
    ordered = sorted(range(len(entries)), key=lambda i: len(entries[i].docnums))
    at = [dict(zip(entries[i].docnums, range(len(entries[i].docnums)), strict=True)) for i in range(len(entries))]
    for docnum in entries[ordered[0]].docnums:
        if docnum in excluded or (allowed is not None and docnum not in allowed):
            continue
        positions = [index.get(docnum) for index in at]
        if None in positions:
            continue
        record = records[docnum]
        if dated and not (record and record.issued and first <= record.issued <= last):
            continue
        flags = [e.flags[p] for e, p in zip(entries, positions, strict=True)]  # type: ignore[index]
        tier = TITLE if all(f & 1 for f in flags) else 0.0
        for flag in flags:
            if flag & 2:
                tier += WHOLE_WORD
        counts = tuple(e.counts[p] for e, p in zip(entries, positions, strict=True))  # type: ignore[index]
        append((-tier, offset + docnum, record, slope, counts))  # type: ignore[arg-type]
    return found


def _scan(leaf: Any, segment: SegmentRecords, term: str) -> TermInSegment:
    """Every document of the segment whose text contains `term`: candidates from its rarest
    pairs' postings (a small segment: all), confirmed by a substring test in the match record."""
    grams = [] if segment.small else _pair_frequencies(leaf, term)  # a small segment may have no pairs
    records = segment.records
    pool = None if segment.small else _candidates(leaf, grams)
    ids = _word_ids(leaf, segment, query_words(term))
    size = len(term)
    docnums, flags, counts = array("i"), bytearray(), array("I")
    for docnum in sorted(pool) if pool is not None else range(len(records)):
        record = records[docnum]
        if record is None:
            continue
        text = record.text
        position = text.find(term)
        if position < 0:
            continue
        docnums.append(docnum)
        # the first occurrence is in the title if any is: the title is where the text starts
        flags.append((1 if position + size <= record.title_end else 0) | (2 if docnum in ids else 0))
        counts.append(text.count(term, 0, record.body_end))
    if segment.small:  # the exact number of documents holding the term bounds its frequency
        return TermInSegment(rarest=len(docnums) if pairs(term) else None, docnums=docnums, flags=bytes(flags), counts=counts)
    return TermInSegment(rarest=grams[0][0] if grams else None, docnums=docnums, flags=bytes(flags), counts=counts)


def _pair_frequencies(leaf: Any, term: str) -> list[tuple[int, str]]:
    """(documents, pair) for each pair of the term in this segment, rarest first."""
    return sorted((leaf.doc_frequency("pairs", g), g) for g in pairs(term))


def _candidates(leaf: Any, grams: list[tuple[int, str]]) -> set[int] | None:
    """Documents holding a term's rarest pairs (None: a single character, no pairs)."""
    if not grams:
        return None
    if grams[0][0] == 0:
        return set()
    ids = set(posting_ids(leaf, "pairs", grams[0][1]))
    for frequency, gram in grams[1:_MAX_PAIRS]:
        if not ids or frequency > 2 * len(ids):
            break  # reading a much longer list costs more than checking the candidates' text
        ids &= set(posting_ids(leaf, "pairs", gram))
    return ids


def _word_ids(leaf: Any, segment: SegmentRecords, words: list[str]) -> set[int] | frozenset[int]:
    """Documents indexed under every word of a term (empty when the term has none)."""
    ids: set[int] | frozenset[int] | None = None
    for word in words:
        found = segment.ids(leaf, "words", word)
        ids = (found if isinstance(found, frozenset) else set(found)) if ids is None else ids.intersection(found)
    return ids or set()


def _allowed(leaf: Any, segment: SegmentRecords, filters: SearchFilters) -> set[int] | None:
    """Documents the filters allow in this segment (None: no filter on indexed fields)."""
    clauses: list[set[int]] = []

    def any_of(fieldname: str, values: Iterable[str]) -> None:
        found: set[int] = set()
        for value in values:
            found.update(segment.ids(leaf, fieldname, value))
        clauses.append(found)

    if filters.doc_types:
        any_of("doc_type", filters.doc_types)
    for fieldname, value in (("level1", filters.level1), ("level2", filters.level2), ("item", filters.item)):
        if value:
            any_of(fieldname, [value])
    if filters.departments:
        any_of("departments", filters.departments)
    if filters.statuses:
        any_of("status", filters.statuses)
    if filters.points:
        any_of("points", [t for p in filters.points for t in (p, *leaf.expand_prefix("points", p + "."))])
    return set.intersection(*clauses) if clauses else None


def _idf(counts: Sequence[int], occurrences: Sequence[Sequence[TermInSegment]], terms: int) -> list[float]:
    """Inverse document frequency of each term; its frequency is bounded by its rarest pair's
    in each segment (a single character: by the segment's document count)."""
    documents = max(sum(counts), 1)
    weights = []
    for index in range(terms):
        rarest = [entries[index].rarest for entries in occurrences]
        bound = sum(count if pair is None else pair for pair, count in zip(rarest, counts, strict=True))
        weights.append(math.log(1 + (max(documents - bound, 0) + 0.5) / (bound + 0.5)))
    return weights


def page(matches: Matches, *, sort: Sort, start: int, stop: int) -> list[Match]:
    """matches[start:stop] in rank order — by relevance (catalogue order among equals, or without
    query text), or by date: newest first, undated last, relevance among equals.

    The matches are sorted by their cheap key (tier; for dates, date then tier); occurrences are
    counted only in the runs of equal keys that overlap the page, which decides their order.
    """
    found = matches.found
    found.sort(key=itemgetter(0))  # stable sorts on plain keys are several times faster than tuples
    if sort is Sort.DATE:
        found.sort(key=_issued, reverse=True)
    stop = min(stop, len(found))
    if start >= stop:
        return []
    if sort is Sort.RELEVANCE:  # ascending tiers: the runs' ends by bisection
        tiers = list(map(itemgetter(0), found))
        low, high = bisect_left(tiers, tiers[start], hi=start), bisect_right(tiers, tiers[stop - 1], lo=stop - 1)
    else:
        low, high = start, stop
        while low > 0 and _date_and_tier(found[low - 1]) == _date_and_tier(found[start]):
            low -= 1
        while high < len(found) and _date_and_tier(found[high]) == _date_and_tier(found[stop - 1]):
            high += 1
    group = found[low:high]
    keys = _keys(group, matches)
    if sort is Sort.RELEVANCE and stop - low < len(group) // 4:  # the first pages: select, do not sort
        chosen = heapq.nsmallest(stop - low, zip(keys, [m[2].order for m in group], range(len(group)), strict=True))
        positions = [i for _, _, i in chosen]
    else:
        positions = sorted(range(len(group)), key=lambda i: group[i][2].order)
        positions.sort(key=keys.__getitem__)
        if sort is Sort.DATE:
            positions.sort(key=lambda i: group[i][2].issued, reverse=True)
    return [Match(key=keys[i], docnum=group[i][1], record=group[i][2]) for i in positions[start - low : stop - low]]


def _keys(group: list[Found], matches: Matches) -> list[float]:
    """-(tier + BM25 weight of every term's occurrences) per match: the full rank, negated.

    Occurrences are counted in the title, issuing number and body, not in attachments: a form
    that repeats a word does not outrank the regulation that rules on it (a document found in its
    attachments alone comes after those whose text has the words), and long attachments cost
    ranking nothing."""
    if len(matches.terms) == 1:  # one comprehension, no call per match: thousands of them
        factor = matches.factors[0]
        return [m[0] - factor * c / (c + _BASE + m[3] * m[2].body_end) for m in group for c in (m[4],)]  # type: ignore[operator]
    keys = []
    for m in group:
        norm = _BASE + m[3] * m[2].body_end
        weight = 0.0
        for count, factor in zip(m[4], matches.factors, strict=True):  # type: ignore[arg-type]
            weight += factor * count / (count + norm)
        keys.append(m[0] - weight)
    return keys


def _issued(found: Found) -> str:
    return found[2].issued


def _date_and_tier(found: Found) -> tuple[str, float]:
    return found[2].issued, found[0]
