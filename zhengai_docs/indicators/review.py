"""The external review (复核) of the self-diagnosis: per element, does the reviewers' finding
agree with the college's own? — and the verdict the Beijing plan defines.

Beijing (15 elements): 有效 when ≥ 12 agree, 异常 when < 10 agree, otherwise 待改进. A framework
with another number of elements n keeps the same shares: 有效 when agreeing ≥ 4/5 of n (12/15),
异常 when agreeing < 2/3 of n (10/15), so 有效 needs ⌈0.8 n⌉ and 异常 means fewer than ⌈2n/3⌉.
Until every element has a record the verdict is 未完成 (the counts so far are shown).
Records are append-only like measured values: a changed finding is a new revision.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from zhengai_docs.db.database import Database
from zhengai_docs.db.models import ExternalReview
from zhengai_docs.errors import Refused
from zhengai_docs.indicators.results import EntryConflict
from zhengai_docs.permissions import Actor, WritePolicy

MAX_NOTE = 500


class Verdict(enum.Enum):
    VALID = "有效"
    NEEDS_IMPROVEMENT = "待改进"
    ABNORMAL = "异常"
    INCOMPLETE = "未完成"

    @property
    def label(self) -> str:
        return self.value


@dataclass(frozen=True)
class Finding:
    element_id: str
    revision: int
    agrees: bool
    note: str
    entered_by_name: str
    entered_at: dt.datetime


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    agreeing: int
    recorded: int
    elements: int

    @property
    def valid_at(self) -> int:
        """Agreeing elements needed for 有效 (12 of 15)."""
        return -(-4 * self.elements // 5)

    @property
    def abnormal_below(self) -> int:
        """Fewer agreeing elements than this is 异常 (10 of 15)."""
        return -(-2 * self.elements // 3)


def verdict(*, agreeing: int, recorded: int, elements: int) -> Outcome:
    if elements <= 0 or recorded < elements:
        return Outcome(Verdict.INCOMPLETE, agreeing, recorded, elements)
    if 5 * agreeing >= 4 * elements:
        chosen = Verdict.VALID
    elif 3 * agreeing < 2 * elements:
        chosen = Verdict.ABNORMAL
    else:
        chosen = Verdict.NEEDS_IMPROVEMENT
    return Outcome(chosen, agreeing, recorded, elements)


def findings(db: Database, *, framework: str, year: int) -> dict[str, Finding]:
    """The latest finding per element."""
    with db.session() as session:
        rows = session.scalars(
            select(ExternalReview)
            .where(ExternalReview.framework == framework, ExternalReview.year == year)
            .order_by(ExternalReview.revision)
        ).all()
    return {
        r.element_id: Finding(r.element_id, r.revision, r.agrees, r.note, r.entered_by_name, r.entered_at) for r in rows
    }  # later revisions replace earlier ones


def outcome(db: Database, *, framework: str, year: int, element_ids: Collection[str]) -> Outcome:
    latest = findings(db, framework=framework, year=year)
    mine = [latest[e] for e in element_ids if e in latest]
    return verdict(agreeing=sum(1 for f in mine if f.agrees), recorded=len(mine), elements=len(element_ids))


def record_finding(
    db: Database,
    *,
    policy: WritePolicy,
    actor: Actor,
    framework: str,
    year: int,
    element_id: str,
    agrees: bool,
    note: str,
    expected: int,
) -> None:
    """Add a finding as revision `expected + 1` (the one the page showed); EntryConflict if someone else
    recorded one meanwhile."""
    policy.require_external_review(actor)
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise Refused(f"复核意见不能超过 {MAX_NOTE} 字")
    try:
        with db.transaction() as session:
            session.add(
                ExternalReview(
                    framework=framework, year=year, element_id=element_id, revision=expected + 1, agrees=agrees, note=note,
                    entered_by=actor.username, entered_by_name=actor.name, entered_at=dt.datetime.now(dt.UTC),
                )
            )  # fmt: skip
    except IntegrityError:
        raise EntryConflict(f"要素 {element_id} 的复核结论已由他人更新，您的录入未保存；请刷新后核对") from None
