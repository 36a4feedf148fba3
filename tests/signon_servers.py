"""Real identity servers for the sign-on tests, started on 127.0.0.1 by the tests themselves.

- `Slapd`: Debian's OpenLDAP `slapd` with a throw-away configuration (slapd.conf) and database:
  people under `ou=people`, groups (`groupOfNames`) under `ou=groups`, the memberof and ppolicy
  overlays, and one account locked by `pwdAccountLockedTime` (the server itself refuses its bind;
  the app's `LDAP_DISABLED_FILTER` names it, so the app can say why). Like many campus directories
  (and Active Directory), it accepts unauthenticated binds (a DN with an empty password:
  `allow bind_anon_dn`), which must never count as a login.
- `CasServer`: django-cas-server (a maintained CAS 1/2/3 server) run by Django's `runserver` in a
  subprocess, authenticating against the same `slapd` (its `LdapAuthUser`, password checked by a
  bind), releasing the attributes name, staffNumber, department, email and groups to the
  service pattern of our app, with single logout on.

Both are skipped, with the reason, only when the program or package is missing.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from flask import Flask
from werkzeug.serving import make_server

SLAPD = next((p for p in ("/usr/sbin/slapd", shutil.which("slapd")) if p and Path(p).exists()), None)
LDAPWHOAMI = shutil.which("ldapwhoami")
SLAPADD = next((p for p in ("/usr/sbin/slapadd", shutil.which("slapadd")) if p and Path(p).exists()), None)
MODULE_PATH = "/usr/lib/ldap"
SCHEMAS = ("core", "cosine", "inetorgperson", "nis")
BASE_DN = "dc=college,dc=edu,dc=cn"
ADMIN_DN = f"cn=admin,{BASE_DN}"
ADMIN_PASSWORD = "directory-admin-pw"


@dataclass(frozen=True)
class Person:
    uid: str
    name: str
    staff_number: str
    department: str
    email: str
    password: str
    groups: tuple[str, ...] = ()
    locked: bool = False

    @property
    def dn(self) -> str:
        return f"uid={self.uid},ou=people,{BASE_DN}"


PEOPLE = (
    # The first entry a search for `(uid=*)` finds: an injection `*)(uid=*` with his password would sign in as him.
    Person("aaron", "艾伦", "20180001", "组织人事处", "aaron@college.edu.cn", "Aaron-pass-2026", ("all-staff",)),
    Person("zhangsan", "张三", "20190001", "教务处", "zhangsan@college.edu.cn", "Zhangsan-pass-2026", ("jiaowu-editors", "all-staff")),
    Person("lisi", "李四", "20190002", "学生工作处", "lisi@college.edu.cn", "Lisi-pass-2026", ("all-staff",)),
    Person("wangwu", "王五", "20190003", "后勤保障部", "wangwu@college.edu.cn", "Wangwu-pass-2026", ("all-staff",)),
    Person(
        "qianqi", "钱七", "20190004", "党委（院长）办公室", "qianqi@college.edu.cn", "Qianqi-pass-2026", ("zhiliang-office", "all-staff")
    ),
    Person("zhaoliu", "赵六", "20190005", "教务处", "zhaoliu@college.edu.cn", "Zhaoliu-pass-2026", ("jiaowu-editors",), locked=True),
)
GROUPS = ("jiaowu-editors", "zhiliang-office", "all-staff")


def person(uid: str) -> Person:
    return next(p for p in PEOPLE if p.uid == uid)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, *, process: subprocess.Popen[bytes], log: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: {log.read_text(errors='replace')[-3000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"server did not listen on {port} within {seconds} s: {log.read_text(errors='replace')[-3000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, then SIGKILL what is left."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _ssha(password: str) -> str:
    salt = secrets.token_bytes(8)
    return "{SSHA}" + base64.b64encode(hashlib.sha1(password.encode() + salt).digest() + salt).decode()  # noqa: S324 - slapd's scheme


def _b64(value: str) -> str:
    """LDIF needs base64 (`attr:: …`) for non-ASCII values."""
    return base64.b64encode(value.encode()).decode()


def directory_ldif() -> str:
    entries = [
        f"dn: {BASE_DN}\nobjectClass: dcObject\nobjectClass: organization\ndc: college\no: college",
        f"dn: ou=people,{BASE_DN}\nobjectClass: organizationalUnit\nou: people",
        f"dn: ou=groups,{BASE_DN}\nobjectClass: organizationalUnit\nou: groups",
        f"dn: ou=policies,{BASE_DN}\nobjectClass: organizationalUnit\nou: policies",
        f"dn: cn=default,ou=policies,{BASE_DN}\nobjectClass: pwdPolicy\nobjectClass: device\ncn: default\n"
        "pwdAttribute: userPassword\npwdLockout: TRUE",
    ]
    for p in PEOPLE:
        lines = [
            f"dn: {p.dn}",
            "objectClass: inetOrgPerson",
            f"uid: {p.uid}",
            f"cn:: {_b64(p.name)}",
            f"sn:: {_b64(p.name[0])}",
            f"displayName:: {_b64(p.name)}",
            f"employeeNumber: {p.staff_number}",
            f"departmentNumber:: {_b64(p.department)}",
            f"mail: {p.email}",
            f"userPassword: {_ssha(p.password)}",
        ]
        if p.locked:
            lines.append("pwdAccountLockedTime: 000001010000Z")  # locked for good (ppolicy)
        entries.append("\n".join(lines))
    for group in GROUPS:
        members = [p.dn for p in PEOPLE if group in p.groups]
        entries.append(
            "\n".join(
                [f"dn: cn={group},ou=groups,{BASE_DN}", "objectClass: groupOfNames", f"cn: {group}"] + [f"member: {m}" for m in members]
            )
        )
    return "\n\n".join(entries) + "\n"


def slapd_conf(folder: Path) -> str:
    includes = "".join(f"include /etc/ldap/schema/{name}.schema\n" for name in SCHEMAS)
    return includes + textwrap.dedent(
        f"""\
        modulepath {MODULE_PATH}
        moduleload back_mdb
        moduleload memberof
        moduleload ppolicy
        pidfile {folder}/slapd.pid
        allow bind_anon_dn
        database mdb
        maxsize 104857600
        suffix "{BASE_DN}"
        rootdn "{ADMIN_DN}"
        rootpw {ADMIN_PASSWORD}
        directory {folder}/data
        overlay memberof
        overlay ppolicy
        ppolicy_default "cn=default,ou=policies,{BASE_DN}"
        ppolicy_use_lockout
        access to attrs=userPassword by self write by anonymous auth by * none
        access to * by users read by anonymous auth
        """
    )


class Slapd:
    """One slapd on a free port of 127.0.0.1, with PEOPLE and GROUPS loaded."""

    def __init__(self, folder: Path) -> None:
        if SLAPD is None or SLAPADD is None:
            pytest.skip("OpenLDAP's slapd is not installed (apt-get install slapd ldap-utils)")
        self.folder = folder
        self.port = free_port()
        self.url = f"ldap://127.0.0.1:{self.port}"
        (folder / "data").mkdir(parents=True)
        conf = folder / "slapd.conf"
        conf.write_text(slapd_conf(folder), encoding="utf-8")
        ldif = folder / "directory.ldif"
        ldif.write_text(directory_ldif(), encoding="utf-8")
        subprocess.run([SLAPADD, "-f", str(conf), "-l", str(ldif)], check=True, capture_output=True)
        self.log = folder / "slapd.log"
        with self.log.open("wb") as out:
            # -d 0: stay in the foreground (the test owns the process), log nothing but errors.
            self.process = subprocess.Popen(
                [SLAPD, "-f", str(conf), "-h", f"{self.url}/", "-d", "0"], stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_for_port(self.port, process=self.process, log=self.log)

    def settings(self, *, search: bool = True) -> dict[str, object]:
        """The app's LDAP settings for this directory: search-then-bind with the admin account, or bind as the user."""
        common: dict[str, object] = {
            "LDAP_URL": self.url,
            "LDAP_GROUP_BASE": f"ou=groups,{BASE_DN}",
            "LDAP_DISABLED_FILTER": "(pwdAccountLockedTime=*)",
        }
        if search:
            return {**common, "LDAP_BIND_DN": ADMIN_DN, "LDAP_BIND_PASSWORD": ADMIN_PASSWORD, "LDAP_SEARCH_BASE": f"ou=people,{BASE_DN}"}
        return {**common, "LDAP_USER_DN_TEMPLATE": f"uid={{username}},ou=people,{BASE_DN}"}

    def close(self) -> None:
        stop(self.process)


def cas_server_available() -> str | None:
    """Why the CAS server cannot run here, or None."""
    try:
        import cas_server  # noqa: F401
        import django  # noqa: F401
    except ImportError:
        return "django-cas-server is not installed (pip install -e '.[test]')"
    return None


CAS_SETTINGS = '''\
"""Settings of a throw-away django-cas-server for zhengai-docs' tests (written by tests/signon_servers.py)."""

SECRET_KEY = {secret!r}
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "cas_urls"
USE_TZ = True
LANGUAGE_CODE = "zh-hans"
INSTALLED_APPS = [
    "django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions", "django.contrib.messages",
    "django.contrib.staticfiles", "cas_server",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware", "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware", "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware", "django.middleware.locale.LocaleMiddleware",
]
TEMPLATES = [{{
    "BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
    "OPTIONS": {{"context_processors": [
        "django.template.context_processors.request", "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]}},
}}]
DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": {database!r}}}}}
STATIC_URL = "/static/"
SESSION_ENGINE = "django.contrib.sessions.backends.db"
CAS_AUTH_CLASS = "cas_auth.DirectoryUser"
CAS_LDAP_SERVER = {ldap_url!r}
CAS_LDAP_USER = {admin_dn!r}
CAS_LDAP_PASSWORD = {admin_password!r}
CAS_LDAP_BASE_DN = {people_base!r}
CAS_LDAP_USER_QUERY = "(uid=%(username)s)"
CAS_LDAP_USERNAME_ATTR = "uid"
CAS_LDAP_PASSWORD_CHECK = "bind"
CAS_TICKET_VALIDITY = {ticket_validity}
CAS_NEW_VERSION_HTML_WARNING = False
CAS_NEW_VERSION_EMAIL_WARNING = False
CAS_SHOW_POWERED = False
CAS_COMPONENT_URLS = {{key: "" for key in (
    "bootstrap3_css", "bootstrap3_js", "html5shiv", "respond", "bootstrap4_css", "bootstrap4_js", "jquery",
)}}  # no network here: the login form works without its CDN styles
CAS_SLO_TIMEOUT = 5
LOGGING = {{"version": 1, "disable_existing_loggers": False}}
GROUPS_BASE = {groups_base!r}
'''

CAS_AUTH = '''\
"""The CAS server's users: the test directory's people (LdapAuthUser), with their groups."""
import ldap3
from cas_server.auth import LdapAuthUser
from django.conf import settings


class DirectoryUser(LdapAuthUser):
    """LdapAuthUser, plus the names of the groups the person belongs to (memberOf is operational)."""

    def __init__(self, username):
        super().__init__(username)
        if self.user:
            connection = self.get_conn()
            query = "(member=%s)" % ldap3.utils.conv.escape_filter_chars(self.user["dn"])
            connection.search(settings.GROUPS_BASE, query, attributes=["cn"])
            self.user["groups"] = [str(entry.cn) for entry in connection.entries]
'''

CAS_URLS = """\
from django.urls import include, path

urlpatterns = [path("cas/", include("cas_server.urls", namespace="cas_server"))]
"""

CAS_SETUP = '''\
"""Our app as a CAS service: its one callback URL, the attributes released under our names, single logout on."""
import django

django.setup()
from cas_server import models

pattern = models.ServicePattern.objects.create(
    pos=1, name="zhengai-docs", pattern={pattern!r}, single_log_out=True, user_field="uid", restrict_users=False,
)
# Another application on the same CAS server: its tickets must not sign anyone in to ours.
models.ServicePattern.objects.create(pos=2, name="other-app", pattern=r"^http://127\\.0\\.0\\.1:[0-9]+/other-app/.*$", user_field="uid")
for ldap_name, released in (("cn", "name"), ("employeeNumber", "staffNumber"), ("departmentNumber", "department"), ("mail", "email"),
                            ("groups", "groups"), ("uid", "uid")):
    models.ReplaceAttributName.objects.create(name=ldap_name, replace=released, service_pattern=pattern)
'''


class CasServer:
    """django-cas-server on a free port, authenticating against `directory`, serving `service_url`."""

    def __init__(self, folder: Path, *, directory: Slapd, service_url: str, ticket_validity: int = 60) -> None:
        reason = cas_server_available()
        if reason is not None:
            pytest.skip(reason)
        folder.mkdir(parents=True)
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/cas/"
        self.service_url = service_url
        (folder / "cas_settings.py").write_text(
            CAS_SETTINGS.format(
                secret=secrets.token_hex(16),
                database=str(folder / "cas.sqlite3"),
                ldap_url=directory.url,
                admin_dn=ADMIN_DN,
                admin_password=ADMIN_PASSWORD,
                people_base=f"ou=people,{BASE_DN}",
                groups_base=f"ou=groups,{BASE_DN}",
                ticket_validity=ticket_validity,
            ),
            encoding="utf-8",
        )
        (folder / "cas_urls.py").write_text(CAS_URLS, encoding="utf-8")
        (folder / "cas_auth.py").write_text(CAS_AUTH, encoding="utf-8")
        (folder / "cas_setup.py").write_text(CAS_SETUP.format(pattern="^" + re.escape(service_url) + "$"), encoding="utf-8")
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "cas_settings", "PYTHONPATH": str(folder), "PYTHONWARNINGS": "ignore"}
        subprocess.run(
            [sys.executable, "-m", "django", "migrate", "--noinput", "-v", "0"], cwd=folder, env=env, check=True, capture_output=True
        )
        subprocess.run([sys.executable, "cas_setup.py"], cwd=folder, env=env, check=True, capture_output=True)
        self.log = folder / "cas.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "django", "runserver", f"127.0.0.1:{self.port}", "--noreload", "--nothreading"],
                cwd=folder,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for_port(self.port, process=self.process, log=self.log)

    def ticket(self, person: Person, *, service: str | None = None, session: requests.Session | None = None) -> str:
        """Sign in on the CAS login form as a browser would; the service ticket the server redirects with."""
        browser = session or requests.Session()
        target = service or self.service_url
        login = f"{self.url}login?{urllib.parse.urlencode({'service': target})}"
        form = browser.get(login, timeout=10)
        fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form.text))
        fields.update({"username": person.uid, "password": person.password})
        answer = browser.post(login, data=fields, allow_redirects=False, timeout=10)
        location = answer.headers.get("Location", "")
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
        assert answer.status_code == 302 and "ticket" in query, f"CAS sign-in failed: {answer.status_code} {answer.text[-2000:]}"
        return query["ticket"][0]

    def close(self) -> None:
        stop(self.process)


OTHER_SERVICE = "http://127.0.0.1:9/other-app/callback"


@contextlib.contextmanager
def serving(app: Flask, port: int) -> Iterator[str]:
    """The app on 127.0.0.1:`port` in a thread (the CAS server posts single-logout requests to it)."""
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
