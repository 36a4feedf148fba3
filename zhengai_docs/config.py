"""Settings, declared once with their defaults and help.

Loaded in order: these defaults -> `config.toml` in the instance folder -> `ZHENGAI_<NAME>`
environment variables -> the mapping passed to `create_app` (tests). Relative paths are
relative to the instance folder.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("CONTENT_REPOSITORY", "content.git", "Path of the bare git repository that holds documents, catalogue and frameworks."),
    Setting("CONTENT_BRANCH", "main", "Branch whose head is the content in force."),
    Setting(
        "CONTENT_REMOTE",
        "",
        "URL of the central content repository (file://, ssh://, http(s)://, git://) when several machines serve one "
        "library; CONTENT_REPOSITORY is then this node's mirror. Empty: the local repository is the record.",
    ),
    Setting("REMOTE_TIMEOUT_SECONDS", 20, "Longest wait for one push to or fetch from CONTENT_REMOTE."),
    Setting("REMOTE_FETCH_SECONDS", 5, "How often the background follower fetches CONTENT_REMOTE to follow pushes made elsewhere."),
    Setting(
        "DATABASE_URL",
        "sqlite:///zhengai.db",
        "SQLAlchemy URL of the database (cache tables, users). e.g. postgresql+psycopg://user@host/db",
    ),
    Setting("SECRET_KEY", None, "Key that signs sessions and CSRF tokens. Generated into the instance folder when unset."),
    Setting("ANONYMOUS_READ", False, "Let visitors who are not signed in read documents and the catalogue (e.g. on the campus network)."),
    Setting(
        "SESSION_COOKIE_SECURE",
        False,
        "Send the session and remember-me cookies over HTTPS only. Turn on when the site is served over HTTPS.",
    ),
    Setting("REMEMBER_DAYS", 30, "Days a “在本机保持登录” (remember-me) cookie stays valid; sign-out and a password change end it sooner."),
    Setting("MAX_UPLOAD_MB", 20, "Largest accepted upload in megabytes."),
    Setting(
        "ATTACHMENT_SUFFIXES",
        ".docx .xlsx .pdf .png .jpg",
        "File types a document's 附件 may be (space-separated; judged by content, not by name): any of .docx .xlsx .pdf .png .jpg.",
    ),
    Setting("ATTACHMENT_MAX_BYTES", 20 * 1024 * 1024, "Largest 附件 or picture accepted, in bytes (the request limit grows to fit it)."),
    Setting("LOGIN_MAX_FAILURES", 5, "Failed sign-ins allowed per user name within LOGIN_WINDOW_MINUTES; then that name is locked."),
    Setting("LOGIN_WINDOW_MINUTES", 15, "Window for counting failed sign-ins."),
    Setting(
        "LOGIN_ADDRESS_FREE_FAILURES",
        10,
        "Failed sign-ins from one address (IPv6: one /64) within the window before each further attempt must wait; "
        "an address is slowed down, never locked out.",
    ),
    Setting("LOGIN_ADDRESS_MAX_DELAY_SECONDS", 60, "Longest wait between sign-in attempts from one address (the wait doubles from 1 s)."),
    Setting(
        "TRUSTED_PROXIES",
        0,
        "Number of reverse proxies in front of the app whose X-Forwarded-For and X-Forwarded-Proto headers are believed "
        "(0: the client address is the connection's address).",
    ),
    Setting("HOST", "127.0.0.1", "Address `zhengai-docs serve` listens on."),
    Setting("PORT", 5000, "Port `zhengai-docs serve` listens on."),
    Setting("WORKERS", 1, "Worker processes of `zhengai-docs serve`: 1 runs waitress; more run gunicorn (Linux), e.g. 2 per core."),
    Setting(
        "THREADS",
        0,
        "Threads per worker process of `zhengai-docs serve`; 0 chooses: 8 in the one process of waitress, 2 in each of "
        "several gunicorn workers.",
    ),
    Setting(
        "BACKGROUND_SYNC",
        True,
        "Keep the SQL cache and the search index at the branch head in a background thread (one process at a time works); "
        "page views then sync at most one document of the SQL cache (on one machine the index is left to saves and the follower) "
        "and say when they show an older commit.",
    ),
    Setting("COLLEGE_NAME", "职业技术学院", "College name shown in page titles and reports."),
    Setting("SUPPORT_CONTACT", "信息中心", "Whom users are told to call when the server's storage refuses a save (disk full, read-only)."),
    Setting("ACTIVE_FRAMEWORK", "moe-2015", "Id of the diagnostic framework that links, coverage and audits use (frameworks/<id>.yaml)."),
    Setting("AUDIT_MIN_COVERAGE", 0.0, "Share of diagnostic points (0–1) in-force standards must govern, or `audit --coverage` exits 1."),
    Setting(
        "STATIC_CACHE",
        "static-cache",
        "Folder of the static files under content-hashed names with gzip copies (made at start, shared by every process).",
    ),
    Setting("SEARCH_INDEX", "search-index", "Folder of the full-text search index (a cache: `zhengai-docs reindex` rebuilds it)."),
    Setting(
        "SEARCH_BACKEND",
        "whoosh",
        "Search engine: whoosh (an index folder, SEARCH_INDEX; one machine) or postgresql (tables in the PostgreSQL DATABASE_URL "
        "with pg_trgm, shared by every node; needs a UTF-8 locale).",
    ),
    Setting("CYCLE_YEARS_Z", 3, "Revision cycle of 制度 (regulations) in years; a document's review_cycle overrides it."),
    Setting("CYCLE_YEARS_L", 3, "Revision cycle of 流程 (processes) in years."),
    Setting("CYCLE_YEARS_B", 3, "Revision cycle of 标准 (standards) in years (质量标准“至少3年内调整一次”)."),
    Setting("CYCLE_DUE_SOON_DAYS", 90, "Days before the due date from which a document counts as due soon."),
    Setting("SITE_URL", "", "Public address of the site (e.g. https://zhengai.example.edu.cn), for links in reminders."),
    Setting("SMTP_HOST", None, "Mail server for reminders; e-mail is off while unset."),
    Setting("SMTP_PORT", 587, "Mail server port (587 for STARTTLS, 465 for SSL, 25 for a plain relay)."),
    Setting("SMTP_USER", None, "Mail server login, if it needs one."),
    Setting("SMTP_PASSWORD", None, "Mail server password."),
    Setting("SMTP_FROM", None, "Sender of reminders, e.g. 诊改办 <zhengai@example.edu.cn>."),
    Setting("SMTP_TLS", "starttls", "Connection security: starttls, ssl or none."),
    Setting("REMINDER_WEBHOOK_URL", None, "Group-chat bot webhook (WeCom, DingTalk, Feishu …) that also receives reminders as JSON."),
    Setting(
        "INDICATOR_DUE_DAYS",
        60,
        "Days after a measurement period ends by which its indicator values must be entered; later, `indicators remind` reminds.",
    ),
    Setting(
        "REVIEW_REQUIRED",
        True,
        "Documents reach the branch in force only through review: editors open a revision (修订) draft, the approvers publish it. "
        "Administrators keep direct correction (勘误). Off: editors save straight to the version in force.",
    ),
    Setting("ONE_OPEN_REVISION", True, "At most one open draft per document."),
    Setting("APPROVERS_Z", "", "User names (comma-separated) who review and publish 制度 drafts; empty: the quality office."),
    Setting("APPROVERS_L", "", "User names who review and publish 流程 drafts; empty: the quality office."),
    Setting("APPROVERS_B", "", "User names who review and publish 标准 drafts; empty: the quality office."),
    Setting("WORD_TEMPLATE", "", "Word style template (.docx) for exports; empty: the bundled templates/reference.docx."),
    Setting(
        "GRAPHVIZ_DOT",
        "dot",
        "Graphviz's dot program, which draws flowcharts as pictures for Word, the handbook and print (Debian package graphviz).",
    ),
    Setting("FLOWCHART_CACHE", "flowchart-cache", "Folder of drawn flowchart pictures, kept by content hash (a cache: safe to delete)."),
    Setting("WORD_IMPORT_MAX_MB", 10, "Largest .docx accepted for import, in megabytes."),
    Setting("WORD_IMPORT_MAX_UNZIPPED_MB", 100, "Largest total decompressed size of an imported .docx (zip-bomb guard), in megabytes."),
    Setting(
        "WORD_IMPORT_MAX_SECONDS",
        20,
        "Time one .docx conversion may take; it runs in a child process that is stopped at this CPU and wall-clock time.",
    ),
    Setting(
        "WORD_IMPORT_MAX_MEMORY_MB",
        512,
        "Memory (address space) one .docx conversion's child process may add before it is stopped, in megabytes.",
    ),
    Setting("WORD_IMPORT_MAX_TABLE_CELLS", 20000, "Most table cells an imported .docx may contain."),
    # Campus sign-on (zhengai_docs/signon/; README "Campus sign-on").
    Setting("CAS_SERVER_URL", "", "Address of the campus CAS server (e.g. https://cas.example.edu.cn/cas/); empty: no CAS sign-in."),
    Setting("CAS_VERSION", 3, "CAS protocol version: 3 (p3/serviceValidate, attributes) or 2 (serviceValidate)."),
    Setting("CAS_NAME_ATTRIBUTE", "name", "CAS attribute holding the person's name."),
    Setting("CAS_STAFF_NUMBER_ATTRIBUTE", "staffNumber", "CAS attribute holding the staff number (工号)."),
    Setting("CAS_DEPARTMENT_ATTRIBUTE", "department", "CAS attribute holding the person's department."),
    Setting("CAS_EMAIL_ATTRIBUTE", "email", "CAS attribute holding the e-mail address."),
    Setting("CAS_GROUPS_ATTRIBUTE", "groups", "CAS attribute holding the directory groups (for the role mapping)."),
    Setting("CAS_CA_FILE", "", "CA certificate file for the CAS server's HTTPS (empty: the system's CAs)."),
    Setting("CAS_TIMEOUT_SECONDS", 10, "Longest wait for the CAS server when validating a ticket."),
    Setting("LDAP_URL", "", "LDAP server for the password form (ldap://host or ldaps://host:636); empty: no LDAP sign-in."),
    Setting("LDAP_START_TLS", False, "Upgrade an ldap:// connection with StartTLS (the certificate is verified)."),
    Setting("LDAP_CA_FILE", "", "CA certificate file for ldaps:// and StartTLS (empty: the system's CAs)."),
    Setting(
        "LDAP_USER_DN_TEMPLATE",
        "",
        "Bind as the user with this DN, e.g. uid={username},ou=people,dc=example,dc=edu,dc=cn; empty: search then bind.",
    ),
    Setting("LDAP_BIND_DN", "", "Service account that searches for the user (search-then-bind); empty: an anonymous search."),
    Setting("LDAP_BIND_PASSWORD", "", "Password of LDAP_BIND_DN."),
    Setting("LDAP_SEARCH_BASE", "", "Where people are searched, e.g. ou=people,dc=example,dc=edu,dc=cn."),
    Setting("LDAP_USER_FILTER", "(uid={username})", "Filter that finds the user; {username} is inserted escaped."),
    Setting("LDAP_NAME_ATTRIBUTE", "cn", "LDAP attribute holding the person's name."),
    Setting("LDAP_STAFF_NUMBER_ATTRIBUTE", "employeeNumber", "LDAP attribute holding the staff number (工号)."),
    Setting(
        "LDAP_DEPARTMENT_ATTRIBUTE", "departmentNumber", "LDAP attribute holding the department; empty: from LDAP_DEPARTMENT_GROUP_BASE."
    ),
    Setting("LDAP_EMAIL_ATTRIBUTE", "mail", "LDAP attribute holding the e-mail address."),
    Setting("LDAP_DEPARTMENT_GROUP_BASE", "", "Groups under this base are departments: a person's department is the cn of theirs."),
    Setting("LDAP_GROUP_BASE", "", "Groups under this base are read at sign-in for the role mapping (their cn)."),
    Setting("LDAP_GROUP_FILTER", "(member={dn})", "Filter for a person's groups; {dn} and {username} are inserted escaped."),
    Setting("LDAP_DISABLED_FILTER", "", "An account matching this filter is disabled, e.g. (pwdAccountLockedTime=*)."),
    Setting("LDAP_TIMEOUT_SECONDS", 10, "Longest wait for the LDAP server."),
)
_BY_NAME = {s.name: s for s in SETTINGS}


def load_settings(instance_path: Path, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    values: dict[str, Any] = {s.name: s.default for s in SETTINGS}
    config_file = instance_path / "config.toml"
    if config_file.is_file():
        values.update(_known(tomllib.loads(config_file.read_text(encoding="utf-8")), source=str(config_file)))
    for setting in SETTINGS:
        raw = os.environ.get(f"ZHENGAI_{setting.name}")
        if raw is not None:
            values[setting.name] = _coerce(setting, raw)
    values.update(_known(overrides or {}, source="create_app()"))
    return values


def _known(values: Mapping[str, Any], *, source: str) -> dict[str, Any]:
    unknown = sorted(set(values) - set(_BY_NAME) - {"TESTING", "WTF_CSRF_ENABLED", "SERVER_NAME"})
    if unknown:
        raise ValueError(f"{source}: unknown settings {', '.join(unknown)}")
    return dict(values)


def _coerce(setting: Setting, raw: str) -> Any:
    if isinstance(setting.default, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(setting.default, int):
        return int(raw)
    if isinstance(setting.default, float):
        return float(raw)
    return raw


def resolve_path(instance_path: Path, value: str | os.PathLike[str]) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else instance_path / path


def resolve_database_url(instance_path: Path, url: str) -> str:
    """Make a relative SQLite path relative to the instance folder."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite:///:memory:":
        return prefix + str(resolve_path(instance_path, url[len(prefix) :]))
    return url
