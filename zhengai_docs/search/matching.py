"""Exact matching and ranking over a Whoosh reader, one segment at a time.

For each segment: the postings of a term's rarest character pairs select candidates, the filter
fields' postings restrict them, and each remaining candidate's folded text (its match record,
read once per segment and kept in memory) confirms every term with a substring count. Results
are therefore exact — no false positive, no miss — and the counts feed the ranking:

    all terms in the title  >  number of terms found as whole words  >  BM25 weight of the counts

Whoosh's own query objects are not used for the text: a phrase over pair positions is exact too,
but decoding positions in pure Python made a 5,000-document search take 30–460 ms.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from operator import itemgetter
from typing import Any, NamedTuple

from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.matching.wrappers import FilterMatcher

from zhengai_docs.search.analysis import pairs, query_words
from zhengai_docs.search.backend import REPEALED, SearchFilters, Sort
from zhengai_docs.search.schema import STATE_ID, MatchRecord

_MAX_PAIRS = 3  # candidates from the three rarest pairs of a term; the text check does the rest
_K1, _B = 1.2, 0.75


@dataclass(frozen=True)
class SegmentRecords:
    records: tuple[MatchRecord | None, ...]
    average_length: float


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
            column = leaf.column_reader("record", translate=False)
            records = tuple(MatchRecord.decode(column[n]) for n in range(leaf.doc_count_all()))
            _release_column(leaf, "record")
            lengths = [len(r.text) for r in records if r is not None]
            found = SegmentRecords(records=records, average_length=sum(lengths) / len(lengths) if lengths else 1.0)
            with self._lock:
                self._segments[segment_id] = found
        return found

    def retain(self, segment_ids: Iterable[str]) -> None:
        keep = set(segment_ids)
        with self._lock:
            self._segments = {k: v for k, v in self._segments.items() if k in keep}


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
Found = tuple[float, int, MatchRecord]  # (-rank, docnum, record): plain tuples, thousands per query


class Match(NamedTuple):
    """A `Found` tuple with names, for the documents actually shown."""

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


def find(reader: Any, cache: RecordCache, *, terms: Sequence[str], filters: SearchFilters) -> list[Found]:
    """Every live document that contains all `terms` and passes `filters` (unordered)."""
    leaves = reader.leaf_readers()
    frequencies = [[_pair_frequencies(leaf, t) for t in terms] for leaf, _ in leaves]
    idf = _idf([leaf.doc_count() for leaf, _ in leaves], frequencies, len(terms))
    words = [query_words(t) for t in terms]
    matches: list[Found] = []
    for (leaf, offset), grams in zip(leaves, frequencies, strict=True):
        pools = [_candidates(leaf, g) for g in grams]
        matches += _find_in_segment(leaf, offset, cache.records(leaf), terms=terms, pools=pools, words=words, idf=idf, filters=filters)
    return matches


def _find_in_segment(
    leaf: Any,
    offset: int,
    segment: SegmentRecords,
    *,
    terms: Sequence[str],
    pools: Sequence[set[int] | None],
    words: Sequence[list[str]],
    idf: Sequence[float],
    filters: SearchFilters,
) -> list[Found]:
    narrowing = [p for p in (_allowed(leaf, filters), *pools) if p is not None]
    pool: Iterable[int] = set.intersection(*narrowing) if narrowing else range(len(segment.records))
    excluded = set(leaf.segment().deleted_docs())
    if not filters.statuses:
        excluded.update(posting_ids(leaf, "status", REPEALED))
    word_ids = [_word_ids(leaf, w) for w in words]
    first = filters.issued_from.isoformat() if filters.issued_from else ""
    last = filters.issued_to.isoformat() if filters.issued_to else "9999"
    dated = filters.issued_from is not None or filters.issued_to is not None
    records = segment.records
    base, slope = _K1 * (1 - _B), _K1 * _B / segment.average_length
    factors = [w * (_K1 + 1) for w in idf]
    found: list[Found] = []
    append = found.append
    if len(terms) == 1:  # the common case, without the loops over terms
        term, factor, ids = terms[0], factors[0], word_ids[0]
        for docnum in pool:
            record = records[docnum]
            if record is None or docnum in excluded or (dated and not (record.issued and first <= record.issued <= last)):
                continue
            text = record.text
            count = text.count(term)
            if count:
                rank = factor * count / (count + base + slope * len(text))
                if text.find(term, 0, record.title_end) >= 0:
                    rank += TITLE
                if docnum in ids:
                    rank += WHOLE_WORD
                append((-rank, offset + docnum, record))
        return found
    for docnum in pool:  # the hot loop: thousands of documents per query, keep it lean
        record = records[docnum]
        if record is None or docnum in excluded or (dated and not (record.issued and first <= record.issued <= last)):
            continue
        text = record.text
        counts = [text.count(t) for t in terms]
        if 0 in counts:
            continue
        norm = base + slope * len(text)
        rank = sum([f * c / (c + norm) for f, c in zip(factors, counts, strict=True)])
        end = record.title_end
        if terms and not [t for t in terms if text.find(t, 0, end) < 0]:
            rank += TITLE
        rank += WHOLE_WORD * len([ids for ids in word_ids if docnum in ids])
        append((-rank, offset + docnum, record))
    return found


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


def _word_ids(leaf: Any, words: list[str]) -> set[int]:
    """Documents indexed under every word of a term (empty when the term has none)."""
    ids: set[int] | None = None
    for word in words:
        found = set(posting_ids(leaf, "words", word))
        ids = found if ids is None else ids & found
    return ids or set()


def _allowed(leaf: Any, filters: SearchFilters) -> set[int] | None:
    """Documents the filters allow in this segment (None: no filter on indexed fields)."""
    clauses: list[set[int]] = []

    def any_of(fieldname: str, values: Iterable[str | bytes]) -> None:
        found: set[int] = set()
        for value in values:
            found.update(posting_ids(leaf, fieldname, value))
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


def _idf(counts: Sequence[int], frequencies: Sequence[Sequence[list[tuple[int, str]]]], terms: int) -> list[float]:
    """Inverse document frequency of each term; its frequency is bounded by its rarest pair's
    in each segment (a single character: by the segment's document count)."""
    documents = max(sum(counts), 1)
    weights = []
    for index in range(terms):
        bound = sum(grams[index][0][0] if grams[index] else count for grams, count in zip(frequencies, counts, strict=True))
        weights.append(math.log(1 + (max(documents - bound, 0) + 0.5) / (bound + 0.5)))
    return weights


def order(matches: list[Found], *, sort: Sort) -> list[Found]:
    """By relevance (catalogue order among equals, or without query text), or by date: newest
    first, undated last, relevance among equals."""
    matches.sort(key=lambda m: m[2].order)  # two stable sorts on plain str and float keys are
    matches.sort(key=itemgetter(0))  # several times faster than one on tuple keys
    if sort is Sort.DATE:
        matches.sort(key=lambda m: m[2].issued, reverse=True)  # stable: ties keep the order above
    return matches
