"""SQL tables: a cache of the content repository's head, and the records of people.

Cache tables (everything from `CacheState` to `RevisionRow`) are a projection of one commit and
can be dropped and rebuilt from git at any time. `User` and `UserDepartment` are the record of
people and are never rebuilt.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class CacheState(Base):
    """The commit the cache tables reflect (a single row, id 1)."""

    __tablename__ = "cache_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    commit: Mapped[str | None] = mapped_column(String(40))
    synced_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    catalogue_error: Mapped[str | None] = mapped_column(Text)


class DepartmentRow(Base):
    __tablename__ = "departments"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)


class LevelRow(Base):
    """Level 1 (A) and level 2 (A1) headings of the catalogue."""

    __tablename__ = "levels"

    code: Mapped[str] = mapped_column(String(2), primary_key=True)
    parent: Mapped[str | None] = mapped_column(String(1))
    name: Mapped[str] = mapped_column(String(200))


class ItemRow(Base):
    __tablename__ = "items"

    code: Mapped[str] = mapped_column(String(4), primary_key=True)
    level1: Mapped[str] = mapped_column(String(1), index=True)
    level2: Mapped[str] = mapped_column(String(2), index=True)
    name: Mapped[str] = mapped_column(String(200))
    departments: Mapped[list[ItemDepartment]] = relationship(
        cascade="all, delete-orphan", order_by="ItemDepartment.position", lazy="selectin"
    )

    @property
    def department_names(self) -> list[str]:
        return [d.department for d in self.departments]


class ItemDepartment(Base):
    __tablename__ = "item_departments"

    item_code: Mapped[str] = mapped_column(ForeignKey("items.code", ondelete="CASCADE"), primary_key=True)
    department: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)


class DocumentRow(Base):
    """One document at the cached head; `error` is set when its file does not parse."""

    __tablename__ = "documents"

    code: Mapped[str] = mapped_column(String(5), primary_key=True)
    item_code: Mapped[str] = mapped_column(String(4), index=True)
    doc_type: Mapped[str] = mapped_column(String(1), index=True)
    path: Mapped[str] = mapped_column(String(200))
    blob: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(300))
    status: Mapped[str | None] = mapped_column(String(10), index=True)
    issued: Mapped[dt.date | None] = mapped_column(Date, index=True)
    doc_number: Mapped[str | None] = mapped_column(String(200))
    approved_by: Mapped[str | None] = mapped_column(String(200))
    cycle_years: Mapped[int | None] = mapped_column(Integer)
    cycle_reason: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    last_commit: Mapped[str | None] = mapped_column(String(40))
    last_changed: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    departments: Mapped[list[DocumentDepartment]] = relationship(
        cascade="all, delete-orphan", order_by="DocumentDepartment.position", lazy="selectin"
    )
    points: Mapped[list[DocumentPoint]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    related: Mapped[list[DocumentRelated]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def department_names(self) -> list[str]:
        return [d.department for d in self.departments]


class DocumentDepartment(Base):
    __tablename__ = "document_departments"

    code: Mapped[str] = mapped_column(ForeignKey("documents.code", ondelete="CASCADE"), primary_key=True)
    department: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)


class DocumentPoint(Base):
    __tablename__ = "document_points"

    code: Mapped[str] = mapped_column(ForeignKey("documents.code", ondelete="CASCADE"), primary_key=True)
    point_id: Mapped[str] = mapped_column(String(20), primary_key=True, index=True)


class DocumentRelated(Base):
    __tablename__ = "document_related"

    code: Mapped[str] = mapped_column(ForeignKey("documents.code", ondelete="CASCADE"), primary_key=True)
    related: Mapped[str] = mapped_column(String(5), primary_key=True)


class RevisionRow(Base):
    """One commit that changed one document (history is read from here, not from git log)."""

    __tablename__ = "revisions"
    __table_args__ = (
        UniqueConstraint("code", "commit", name="uq_revisions_code_commit"),
        Index("ix_revisions_code_seq", "code", "seq"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(5))
    seq: Mapped[int] = mapped_column(Integer)  # position on the branch, oldest first
    commit: Mapped[str] = mapped_column(String(40))
    change: Mapped[str] = mapped_column(String(1))  # A, M or D
    blob: Mapped[str | None] = mapped_column(String(40))
    author_name: Mapped[str] = mapped_column(String(200))
    author_email: Mapped[str] = mapped_column(String(200))
    date: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    message: Mapped[str] = mapped_column(Text)
    issued: Mapped[dt.date | None] = mapped_column(Date)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(20))  # reader, editor, quality, admin
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    departments: Mapped[list[UserDepartment]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def department_names(self) -> list[str]:
        return [d.department for d in self.departments]


class UserDepartment(Base):
    __tablename__ = "user_departments"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    department: Mapped[str] = mapped_column(String(100), primary_key=True)


class LoginAttempt(Base):
    """Failed sign-ins, counted per user name and per address to throttle guessing."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
