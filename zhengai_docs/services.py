"""The composition root: every service the web app, the CLI and the benchmarks use, built once
from the settings of one instance folder — plain Python, no Flask.

A new service is constructed in `build_services` and becomes a field of `Services`; a new
whole-library value computed per commit goes into `derived.LibraryState`; a new write rule goes
into the domain method that performs the write (`Library`, `Workflow`), never into a view.
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zhengai_docs import inbox
from zhengai_docs.attachments.store import Attachments, Limits
from zhengai_docs.attachments.texts import AttachmentTexts
from zhengai_docs.background import BackgroundFollower
from zhengai_docs.config import load_settings, resolve_database_url, resolve_path
from zhengai_docs.cycles import rules
from zhengai_docs.db.database import Database
from zhengai_docs.derived import LibraryState
from zhengai_docs.errors import StorageUnavailable
from zhengai_docs.library import Library
from zhengai_docs.notify import mail_sender
from zhengai_docs.permissions import WritePolicy
from zhengai_docs.search.choice import search_backend
from zhengai_docs.search.indexer import SearchIndex
from zhengai_docs.storage.remote import Remote
from zhengai_docs.storage.repository import ContentRepository
from zhengai_docs.workflow import Workflow

log = logging.getLogger(__name__)


@dataclass
class Services:
    """One instance's services, created once per process (not per request)."""

    instance_path: Path
    settings: dict[str, Any]
    policy: rules.Policy
    db: Database
    library: Library
    workflow: Workflow
    state: LibraryState
    follower: BackgroundFollower | None = None

    @functools.cached_property
    def attachments(self) -> Attachments:
        """Documents' 附件 (issue 19), with ATTACHMENT_SUFFIXES and ATTACHMENT_MAX_BYTES."""
        return Attachments(library=self.library, workflow=self.workflow, limits=Limits.from_settings(self.settings))

    def start_background(self) -> None:
        """Start this process's background follower (`background.py`) when BACKGROUND_SYNC is on."""
        if self.settings["BACKGROUND_SYNC"] and self.follower is None:
            lock = self.instance_path / "follower.lock"
            fetch_every = float(self.settings["REMOTE_FETCH_SECONDS"])
            self.follower = BackgroundFollower(library=self.library, lock_path=lock, fetch_seconds=fetch_every).start()

    def close(self) -> None:
        """Stop the follower; release database connections, index readers and the kept git process (a command or a test ends)."""
        if self.follower is not None:
            self.follower.stop()
            self.follower = None
        if self.library.search is not None:
            self.library.search.backend.close()
        self.db.dispose()
        self.library.repo.close()


def default_instance_path() -> Path:
    """The instance folder when none is named: `instance/` beside a source checkout, else
    `<prefix>/var/zhengai_docs-instance` (the rule Flask applies, so both always agree)."""
    package_parent = Path(__file__).resolve().parent.parent
    prefix = Path(sys.prefix).resolve()
    if package_parent.is_relative_to(prefix) or package_parent.name.lower() == "site-packages":
        return prefix / "var" / "zhengai_docs-instance"
    return package_parent / "instance"


def instance_path_from(path: str | os.PathLike[str] | None) -> Path:
    """The instance folder: the one named, else ZHENGAI_INSTANCE_PATH, else the default."""
    chosen = path or os.environ.get("ZHENGAI_INSTANCE_PATH")
    return Path(chosen).resolve() if chosen else default_instance_path()


def load_services(instance_path: Path, overrides: Mapping[str, Any] | None = None) -> Services:
    """Read the instance's settings (defaults, config.toml, environment, `overrides`) and build."""
    return build_services(load_settings(instance_path, overrides), instance_path)


def build_services(settings: Mapping[str, Any], instance_path: Path) -> Services:
    values = dict(settings)
    db = Database(resolve_database_url(instance_path, values["DATABASE_URL"]))
    repo = content_repository(values, instance_path)
    texts = AttachmentTexts(repo=repo, db=db)  # attachments' text, extracted once per file content
    search = SearchIndex(search_backend(values, instance_path=instance_path, db=db), repo, attachments=texts)
    library = Library(repo=repo, db=db, search=search, policy=WritePolicy.from_settings(values))  # the write rules
    policy = rules.Policy.from_settings(values)
    return Services(
        instance_path=instance_path,
        settings=values,
        policy=policy,
        db=db,
        library=library,
        workflow=_workflow(library, values),
        state=LibraryState(db=db, repo=repo, settings=values, policy=policy),
    )


def content_repository(settings: Mapping[str, Any], instance_path: Path) -> ContentRepository:
    """The content repository; with CONTENT_REMOTE, this node's mirror of the central one,
    created (cloned) on first start and fetched at every start (`storage/remote.py`)."""
    path, branch = resolve_path(instance_path, settings["CONTENT_REPOSITORY"]), settings["CONTENT_BRANCH"]
    if not settings["CONTENT_REMOTE"]:
        return ContentRepository(path, branch=branch)
    remote = Remote(url=settings["CONTENT_REMOTE"], mirror=path, branch=branch, timeout=float(settings["REMOTE_TIMEOUT_SECONDS"]))
    repo = ContentRepository(path, branch=branch, remote=remote)
    if not repo.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        ContentRepository.create(path, branch=branch)
        remote.attach()  # a new mirror without its central content would serve nothing: errors propagate
        return repo
    try:
        remote.attach()
    except StorageUnavailable:
        log.warning("central content repository not reachable at start; serving this node's mirror", exc_info=True)
    return repo


def _workflow(library: Library, settings: Mapping[str, Any]) -> Workflow:
    mailer = mail_sender(settings, lambda ids: inbox.addresses(library.db, ids))
    return Workflow(library, one_open_per_document=bool(settings["ONE_OPEN_REVISION"]), mailer=mailer)


def instance_secret(instance: Path) -> str:
    """A random key kept in the instance folder, so sessions survive restarts."""
    key_file = instance / "secret_key"
    if key_file.is_file():
        return key_file.read_text(encoding="ascii").strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker process made it first
        return key_file.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key)
    return key
