"""Exact matching and ranking over a Whoosh reader, one segment at a time.

For each segment: the postings of a term's rarest character pairs select candidates, the filter
fields' postings restrict them, and each remaining candidate's folded text (its match record,
read once per segment and kept in memory) confirms every term with a substring test. Results
are therefore exact — no false positive, no miss. The ranking is

    all terms in the title  >  number of terms found as whole words  >  BM25 weight of the counts

The first two are the *tier*, cheap to know for every match; counting every occurrence of a very
common word in every match was most of a search at 20,000 documents. So `find` confirms and
tiers every match, and `page` counts occurrences only in the tiers that reach the page asked
for: the same order as ranking everything, for a fraction of the counting.

Whoosh's own query objects are not used for the text: a phrase over pair positions is exact too,
but decoding positions in pure Python made a 5,000-document search take 30–460 ms.
"""

from __future__ import annotations

import heapq
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
_BASE = _K1 * (1 - _B)
Found = tuple[float, int, MatchRecord, float]  # (-tier, docnum, record, BM25 length slope of its segment)


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
    frequencies = [[_pair_frequencies(leaf, t) for t in terms] for leaf, _ in leaves]
    idf = _idf([leaf.doc_count() for leaf, _ in leaves], frequencies, len(terms))
    words = [query_words(t) for t in terms]
    matches: list[Found] = []
    for (leaf, offset), grams in zip(leaves, frequencies, strict=True):
        pools = [_candidates(leaf, g) for g in grams]
        matches += _find_in_segment(leaf, offset, cache.records(leaf), terms=terms, pools=pools, words=words, filters=filters)
    return Matches(found=matches, terms=tuple(terms), factors=tuple(w * (_K1 + 1) for w in idf))


def _find_in_segment(
    leaf: Any,
    offset: int,
    segment: SegmentRecords,
    *,
    terms: Sequence[str],
    pools: Sequence[set[int] | None],
    words: Sequence[list[str]],
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
    slope = _K1 * _B / segment.average_length
    found: list[Found] = []
    append = found.append
    if len(terms) == 1:  # the common case, without the loops over terms
        term, ids = terms[0], word_ids[0]
        for docnum in pool:
            record = records[docnum]
            if record is None or docnum in excluded or (dated and not (record.issued and first <= record.issued <= last)):
                continue
            text = record.text
            if term in text:
                tier = TITLE if text.find(term, 0, record.title_end) >= 0 else 0.0
                if docnum in ids:
                    tier += WHOLE_WORD
                append((-tier, offset + docnum, record, slope))
        return found
    for docnum in pool:  # the hot loop: thousands of documents per query, keep it lean
        record = records[docnum]
        if record is None or docnum in excluded or (dated and not (record.issued and first <= record.issued <= last)):
            continue
        text = record.text
        for term in terms:
            if term not in text:
                break
        else:
            end = record.title_end
            tier = TITLE if terms else 0.0
            for term in terms:
                if text.find(term, 0, end) < 0:
                    tier = 0.0
                    break
            for ids in word_ids:
                if docnum in ids:
                    tier += WHOLE_WORD
            append((-tier, offset + docnum, record, slope))
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
    key = _tier if sort is Sort.RELEVANCE else _date_and_tier
    low, high = start, stop
    while low > 0 and key(found[low - 1]) == key(found[start]):
        low -= 1
    while high < len(found) and key(found[high]) == key(found[stop - 1]):
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
        term, factor = matches.terms[0], matches.factors[0]
        return [m[0] - factor * c / (c + _BASE + m[3] * e) for m in group for e in (m[2].body_end,) for c in (m[2].text.count(term, 0, e),)]
    keys = []
    for m in group:
        text, end = m[2].text, m[2].body_end
        norm = _BASE + m[3] * end
        weight = 0.0
        for term, factor in zip(matches.terms, matches.factors, strict=True):
            count = text.count(term, 0, end)
            weight += factor * count / (count + norm)
        keys.append(m[0] - weight)
    return keys


def _tier(found: Found) -> float:
    return found[0]


def _issued(found: Found) -> str:
    return found[2].issued


def _date_and_tier(found: Found) -> tuple[str, float]:
    return found[2].issued, found[0]
