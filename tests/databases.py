"""One throw-away database per test, on the engine the environment names.

`ZHENGAI_TEST_DATABASE_URL` unset: SQLite files inside each test's instance folder (copying the
folder copies the database). Set to a PostgreSQL admin URL: each instance gets a database of its
own, named in the instance's `config.toml`; copies of an instance are cloned with
`CREATE DATABASE … TEMPLATE …` (a file copy inside the server, ~20 ms for the demo), and every
database the session created is dropped at its end (unless ZHENGAI_TEST_KEEP_DATABASES=1, as
for CI's throw-away cluster, or to look at a failed test's database).
"""

from __future__ import annotations

import itertools
import os
import shutil
import tomllib
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

ADMIN_URL = os.environ.get("ZHENGAI_TEST_DATABASE_URL", "").strip()
CONFIG = "config.toml"


class TestDatabases:
    """Hands out database URLs; on PostgreSQL creates (and later drops) the databases."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self._prefix = f"zt_{uuid.uuid4().hex[:8]}_"
        self._names = (f"{self._prefix}{n}" for n in itertools.count(1))
        self._engine = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool) if admin_url else None

    @property
    def postgresql(self) -> bool:
        return self._engine is not None

    def fresh(self, sqlite_file: Path, *, template: str | None = None) -> str:
        """The URL of a new database (a copy of `template` when given)."""
        if self._engine is None:
            return f"sqlite:///{sqlite_file}"
        name = next(self._names)
        clause = f" TEMPLATE {_quoted(make_url(template).database or '')}" if template else ""
        with self._engine.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}{clause} ENCODING 'UTF8'"))
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if self._engine is None:
            return
        if os.environ.get("ZHENGAI_TEST_KEEP_DATABASES") == "1":
            # .ci/run deletes its throw-away cluster whole: dropping ~2,400 databases one by one
            # (each waits for every backend to let go of the files) took minutes at the end of the run
            self._engine.dispose()
            return
        with self._engine.connect() as connection:
            names = connection.execute(
                text("SELECT datname FROM pg_database WHERE datname LIKE :prefix"), {"prefix": self._prefix + "%"}
            ).scalars()
            for name in list(names):
                connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        self._engine.dispose()


def _quoted(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"unexpected database name {name!r}")
    return name


DATABASES = TestDatabases(ADMIN_URL)


def instance_database_url(instance: Path) -> str:
    """The database URL the app would use for this instance folder."""
    config = instance / CONFIG
    if config.exists():
        url = tomllib.loads(config.read_text(encoding="utf-8")).get("DATABASE_URL")
        if url:
            return str(url)
    return f"sqlite:///{instance / 'zhengai.db'}"


def prepare_instance(instance: Path) -> Path:
    """Make `instance` a new instance folder whose database is empty (a new one on PostgreSQL)."""
    instance.mkdir(parents=True, exist_ok=True)
    if DATABASES.postgresql:
        set_database_url(instance, DATABASES.fresh(instance / "zhengai.db"))
    return instance


def clone_instance(source: Path, target: Path) -> Path:
    """Copy an instance folder and its database."""
    shutil.copytree(source, target)
    if DATABASES.postgresql:
        set_database_url(target, DATABASES.fresh(target / "zhengai.db", template=instance_database_url(source)))
    return target


def set_database_url(instance: Path, url: str) -> None:
    """Write DATABASE_URL into the instance's config.toml, keeping its other settings."""
    config = instance / CONFIG
    kept = config.read_text(encoding="utf-8").splitlines() if config.exists() else []
    lines = [line for line in kept if not line.startswith("DATABASE_URL")]
    config.write_text("\n".join([f'DATABASE_URL = "{url}"', *lines]) + "\n", encoding="utf-8")
