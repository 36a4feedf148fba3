"""Drafts benchmark: each workflow step, and the draft pages, at N documents.

Reuses (or builds) the corpus of `pages_bench.py`, creates an editor and a reviewer, then runs
`--drafts` revisions of different documents through open → save → submit → approve → publish
(each step timed on its own; publish includes the git write, the cache sync and, when the
instance has one, the search index update) and times the draft page and lists through the app.

    python benchmarks/drafts_bench.py --documents 10000 --keep /tmp/pages-10k
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select

from benchmarks.corpus import DEPARTMENTS
from benchmarks.measure import peak_rss_mib, report, timed
from benchmarks.pages_bench import prepare
from zhengai_docs import create_app
from zhengai_docs.catalogue.codes import document_code
from zhengai_docs.db.database import Database
from zhengai_docs.db.models import User
from zhengai_docs.users import Role, create_user, get_user
from zhengai_docs.workflow import Actor, Approval, Workflow

PASSWORD = "bench-password-1"  # noqa: S105 - a throw-away benchmark account
APPROVAL = Approval(
    approving_body="院长办公会", meeting_date=dt.date(2026, 11, 20), doc_number="包职院发〔2026〕1号", issue_date=dt.date(2026, 11, 25)
)


def actor(db: Database, username: str, role: Role, departments: tuple[str, ...]) -> Actor:
    """A benchmark account (created on the first run, reused by later ones)."""
    with db.session() as session:
        found = session.scalars(select(User.id).where(User.username == username)).first()
    user_id = found or create_user(db, username=username, password=PASSWORD, role=role, display_name=username, departments=departments).id
    user = get_user(db, user_id)
    assert user is not None
    return Actor(user.id, user.username, user.display_name, f"{username}@bench", role, tuple(user.department_names))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--revisions", type=int, default=5)
    parser.add_argument("--drafts", type=int, default=40)
    parser.add_argument("--keep", type=Path, help="build into (or reuse) this folder instead of a temporary one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        prepare(root, args.documents, args.revisions)
        settings = {
            "DATABASE_URL": f"sqlite:///{root / 'zhengai.db'}",
            "CONTENT_REPOSITORY": str(root / "content.git"),
            "REVIEW_REQUIRED": True,
        }
        app = create_app(settings, instance_path=str(root))
        services = app.extensions["zhengai"]
        services.db.upgrade()
        library = services.library
        workflow: Workflow = services.workflow
        editor = actor(services.db, "bench-drafts-editor", Role.EDITOR, tuple(DEPARTMENTS))
        reviewer = actor(services.db, "bench-drafts-reviewer", Role.QUALITY, ())
        repo = library.repo
        codes = sorted(p.rsplit("/", 1)[1][:-3] for p in repo.list_files(repo.require_head()) if p.endswith(".md"))
        chosen = [document_code(c) for c in random.Random(11).sample(codes, args.drafts)]
        opened = []
        print(f"{len(codes)} documents; {args.drafts} drafts through every step")

        def open_step(n: int) -> None:
            opened.append(workflow.open(code=chosen[n], kind="revise", reason="基准修订", actor=editor))

        def save_step(n: int) -> None:
            draft = opened[n]
            text = workflow.document(draft)
            opened[n] = workflow.save(
                draft.id, text.with_changes(body=text.body + "\n基准补充条款。\n"), actor=editor, message="补充", expected=draft.tip
            )

        report("open a revision", timed(args.drafts, open_step))
        report("save the draft", timed(args.drafts, save_step))
        report("submit", timed(args.drafts, lambda n: workflow.submit(opened[n].id, actor=editor)))
        report("approve", timed(args.drafts, lambda n: workflow.approve(opened[n].id, actor=reviewer, approval=APPROVAL)))

        client = app.test_client()
        with client.session_transaction() as session:  # signed in as the reviewer without a password hash per run
            session["_user_id"] = str(reviewer.user_id)
            session["_fresh"] = True

        def get(url: str) -> None:
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)

        get("/drafts")
        report("GET /drafts/<id> (diff, rendering, record)", timed(args.drafts, lambda n: get(f"/drafts/{opened[n].id}")), 50)
        report("GET /drafts (lists)", timed(20, lambda n: get("/drafts")), 50)
        report("publish (git + cache + index)", timed(args.drafts, lambda n: workflow.publish(opened[n].id, actor=reviewer)), 100)
        print(f"peak RSS: {peak_rss_mib():.0f} MiB")
        services.db.dispose()


if __name__ == "__main__":
    main()
