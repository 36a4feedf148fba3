"""Merging the index's small segments beside the live index, so that saves never wait for it.

Whoosh merges inside a writer, under the writer lock, for as long as copying the segments
takes: 2.7 s for 72 one-document segments on a quiet machine (Whoosh copies postings in pure
Python), ten seconds and more on a busy one, and every save waited that long. Here a merge has
two steps:

- `fold` copies the live documents of a snapshot of the segments into a new segment, written
  in a scratch folder beside the generation, without the writer lock (with pair and word
  postings when the new segment is not small: saves leave them out, see `schema`);
- `install`, under the writer lock and in milliseconds, deletes in the new segment what saves
  deleted in the folded ones since the snapshot, moves its files in and writes a new table of
  contents without the folded segments (Whoosh's `clean_files` then removes their files).

Which segments: a segment's tier is the number of digits of its live documents; once a tier
holds `MERGE_FACTOR` segments they are folded into one of the next tier, so a document is
copied about once per tier (log-structured merging). Segments whose documents were all
replaced are dropped at no cost, whenever the follower merges. A process killed during `fold`
leaves its scratch folder (removed by the next merge); one killed during `install` leaves
segment files no table of contents names (removed by Whoosh's next commit) or, after the table
of contents, nothing.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.reading import SegmentReader

from zhengai_docs.search.matching import posting_ids
from zhengai_docs.search.schema import SMALL_SEGMENT, split_words, stored_document_fields
from zhengai_docs.search.whoosh_store import IndexStore

MERGE_FACTOR = 10  # segments of one tier folded together
_TOC_ATTEMPTS = 6
SCRATCH_PREFIX = "merging-"


@dataclass(frozen=True)
class Fold:
    """A merged segment waiting in its scratch folder to replace the segments it was copied from."""

    generation: str  # the live index's folder when the snapshot was taken
    folded: tuple[Any, ...]  # the snapshot's segments (with their deletions then)
    merged: Any | None  # the new segment (None: the folded segments held no live document)
    scratch: Path


def due(segments: Sequence[Any]) -> list[Any]:
    """The segments a merge folds now: every fully replaced one (a document saved again and
    again leaves one per save), and the lowest tier that holds `MERGE_FACTOR` segments."""
    tiers: dict[int, list[Any]] = defaultdict(list)
    for segment in segments:
        if segment.doc_count() > 0:
            tiers[len(str(segment.doc_count()))].append(segment)
    full = [members for _, members in sorted(tiers.items()) if len(members) >= MERGE_FACTOR]
    return [s for s in segments if s.doc_count() == 0] + (full[0] if full else [])


def fold(store: IndexStore) -> Fold | None:
    """Copy the due segments of the live index into a new segment (call under the merge lock,
    not the writer lock). None when nothing is due."""
    for stale in store.root.glob(SCRATCH_PREFIX + "*"):  # left by a merge that was killed
        shutil.rmtree(stale, ignore_errors=True)
    generation, ix = store.current()
    toc = _table_of_contents(ix)
    folded = tuple(due(toc.segments))
    if not folded:
        return None
    scratch = store.root / f"{SCRATCH_PREFIX}{os.getpid()}"
    scratch.mkdir()
    try:
        target = whoosh_index.create_in(str(scratch), toc.schema)
        writer = target.writer(limitmb=16, compound=False)  # spills to disk past 16 MB: workers stay small
        large = sum(segment.doc_count() for segment in folded) > SMALL_SEGMENT
        for segment in folded:
            if segment.doc_count() == 0:
                continue  # dropped, not copied
            reader = SegmentReader(ix.storage, toc.schema, segment)
            try:
                _copy(reader, writer, large=large)
            finally:
                reader.close()
        writer.commit(merge=False)
        merged = target._segments()
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return Fold(generation=generation, folded=folded, merged=merged[0] if merged else None, scratch=scratch)


def _table_of_contents(ix: Any) -> Any:
    """The live index's table of contents, read once, so that its segments and schema agree.

    Whoosh finds the newest one by listing the folder, then opens it; a save that commits in
    between deletes it (the follower's merge failed with FileNotFoundError under load, and
    `ix.schema` read the table again at every use): the newest is then read again."""
    for attempt in range(_TOC_ATTEMPTS):
        try:
            return ix._read_toc()
        except FileNotFoundError:
            if attempt == _TOC_ATTEMPTS - 1:
                raise
            time.sleep(0.005 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _copy(reader: Any, writer: Any, *, large: bool) -> None:
    """Add the segment's live documents, in order, rebuilt from what it stores: Whoosh's
    `add_reader` would copy postings (and none where a save's small segment has none)."""
    records = reader.column_reader("record")
    attachments = reader.column_reader("attachments")
    words = words_by_document(reader)
    for docnum, stored in reader.iter_docs():
        fields = stored_document_fields(stored, records[docnum], attachments[docnum], words=words.get(docnum, ()), large=large)
        writer.add_document(**fields)


def words_by_document(reader: Any) -> dict[int, set[str]]:
    """Each document's indexed words (deleted ones too), from the segment's postings or, in a
    small segment, its `wordlist` column."""
    found: dict[int, set[str]] = defaultdict(set)
    for term in reader.lexicon("words"):
        word = term.decode("utf-8")
        for docnum in posting_ids(reader, "words", term):
            found[docnum].add(word)
    if reader.has_column("wordlist"):
        column = reader.column_reader("wordlist")
        for docnum in range(reader.doc_count_all()):
            if value := column[docnum]:
                found[docnum].update(split_words(value.decode("utf-8")))
    return found


def install(store: IndexStore, work: Fold) -> bool:
    """Replace the folded segments by the merged one (call under the writer lock; the caller
    removes the scratch folder). False, and nothing changed, when the live index no longer
    holds every folded segment (rebuilt meanwhile)."""
    if store.current_name() != work.generation:
        return False
    _, ix = store.current()
    live = ix._segments()
    now = {segment.segment_id(): segment for segment in live}
    if any(segment.segment_id() not in now for segment in work.folded):
        return False
    if work.merged is not None:
        _carry_deletions(work.folded, work.merged, now)
        prefix = f"{work.merged.segment_id()}."  # e.g. MAIN_wumappmf38sucyk3.trm
        for path in work.scratch.iterdir():
            if path.name.startswith(prefix):
                os.replace(path, store.root / work.generation / path.name)
    folded = {segment.segment_id() for segment in work.folded}
    segments = [segment for segment in live if segment.segment_id() not in folded]
    segments += [work.merged] if work.merged is not None else []
    generation = ix.latest_generation() + 1
    whoosh_index.TOC(ix.schema, segments, generation).write(ix.storage, ix.indexname)
    whoosh_index.clean_files(ix.storage, ix.indexname, generation, segments)
    return True


def _carry_deletions(folded: Sequence[Any], merged: Any, now: dict[str, Any]) -> None:
    """Delete in the merged segment each document a save deleted in a folded segment after the
    snapshot. The merged segment numbers the folded segments' live documents in order."""
    number = 0
    for snapshot in folded:
        deleted_since = set(now[snapshot.segment_id()].deleted_docs()) - set(snapshot.deleted_docs())
        for docnum in range(snapshot.doc_count_all()):
            if snapshot.is_deleted(docnum):
                continue
            if docnum in deleted_since:
                merged.delete_document(number)
            number += 1
