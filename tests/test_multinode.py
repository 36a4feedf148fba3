"""Several machines (CONTENT_REMOTE): a central bare repository served on 127.0.0.1 by `git
daemon`, two application nodes as real `zhengai-docs serve` processes with instance folders and
mirrors of their own, one PostgreSQL database shared by both.

Runs on the PostgreSQL pass of the suite; on SQLite (one machine's database) it is skipped.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.databases import DATABASES
from tests.html_reader import form_fields, visible_text
from tests.remote_daemon import free_port, git_daemon
from zhengai_docs.bootstrap import DEMO_PASSWORD
from zhengai_docs.db.database import Database
from zhengai_docs.db.sync import cached_commit
from zhengai_docs.storage.remote import init_central

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not DATABASES.postgresql, reason="several nodes share one PostgreSQL database; SQLite serves one machine"),
    pytest.mark.xdist_group("multinode"),  # --dist loadgroup: the seeded cluster is made once per worker that runs these tests
]

CLI = [sys.executable, "-c", "from zhengai_docs.cli import main; main()"]
HOOK_WAIT = """#!/bin/sh
# the test's brake: while the marker exists, the push waits here (it has started: say so)
touch "{marker}.reached"
while [ -e "{marker}" ]; do sleep 0.05; done
"""


@dataclass
class Node:
    name: str
    instance: Path
    url: str = ""
    process: subprocess.Popen[bytes] | None = None

    def command(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([*CLI, "--instance", str(self.instance), *args], capture_output=True, text=True, timeout=300)
        if check:
            assert result.returncode == 0, result.stdout + result.stderr
        return result

    def start(self) -> None:
        self.launch()
        self.wait_until_serving()

    def launch(self) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        command = [*CLI, "--instance", str(self.instance), "serve", "--port", str(port)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def wait_until_serving(self) -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{self.url}/login", timeout=5).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, f"node {self.name} did not start"
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL the whole process group (the server and any git it runs)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)
        self.process = None


@dataclass
class Cluster:
    central: Path
    database_url: str
    a: Node
    b: Node

    def git(self, *args: str, repo: Path | None = None) -> str:
        where = repo or self.central
        return subprocess.run(["git", f"--git-dir={where}", *args], capture_output=True, text=True, check=True).stdout.strip()

    def central_head(self) -> str:
        return self.git("rev-parse", "refs/heads/main")

    def mirror_head(self, node: Node) -> str:
        return self.git("rev-parse", "refs/heads/main", repo=node.instance / "content.git")

    def cached(self) -> str | None:
        database = Database(self.database_url)
        try:
            return cached_commit(database)
        finally:
            database.dispose()

    def assert_fsck_clean(self) -> None:
        for repo in (self.central, self.a.instance / "content.git", self.b.instance / "content.git"):
            result = subprocess.run(["git", f"--git-dir={repo}", "fsck", "--strict", "--no-progress"], capture_output=True, text=True)
            assert result.returncode == 0 and "error" not in result.stderr, f"{repo}: {result.stderr}"


def write_config(instance: Path, *, database_url: str, remote: str, secret: str) -> None:
    instance.mkdir(parents=True, exist_ok=True)
    text = f'DATABASE_URL = "{database_url}"\nCONTENT_REMOTE = "{remote}"\nSECRET_KEY = "{secret}"\n'
    (instance / "config.toml").write_text(text, encoding="utf-8")


NODES = ("a", "b")


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A central repository filled once by a first node's `init --demo`, then nodes a and b joined to
    it by `init` over `git daemon` (a clone into each mirror, an index each), and the database they
    share: all copied per test (two `init` processes per test were a third of this module's time)."""
    root = tmp_path_factory.mktemp("multinode-seed")
    central = init_central(root / "central.git")
    database_url = DATABASES.fresh(root / "unused.db")
    write_config(root / "first", database_url=database_url, remote=f"file://{central}", secret="seed")
    Node(name="first", instance=root / "first").command("init", "--demo")  # fills the empty central repository
    with git_daemon(root) as prefix:
        for name in NODES:
            write_config(root / name, database_url=database_url, remote=f"{prefix}/central.git", secret="seed")
            Node(name=name, instance=root / name).command("init")  # clones the central repository into its mirror, builds its index
    return central, database_url


@pytest.fixture
def cluster(tmp_path: Path, seeded: tuple[Path, str]) -> Iterator[Cluster]:
    served = tmp_path / "served"
    central = served / "central.git"
    shutil.copytree(seeded[0], central, symlinks=True)
    database_url = DATABASES.fresh(tmp_path / "unused.db", template=seeded[1])
    with git_daemon(served) as prefix:
        nodes = []
        for name in NODES:
            instance = shutil.copytree(seeded[0].parent / name, tmp_path / name, symlinks=True)
            # a new daemon port: the node points its mirror at it when it starts (Remote.attach)
            write_config(instance, database_url=database_url, remote=f"{prefix}/central.git", secret=f"shared-{tmp_path.name}")
            nodes.append(Node(name=name, instance=instance))
        a, b = nodes
        a.launch()  # both start at once, as the machines of a cluster do
        b.launch()
        a.wait_until_serving()
        b.wait_until_serving()
        cluster = Cluster(central=central, database_url=database_url, a=a, b=b)
        try:
            yield cluster
        finally:
            a.kill()
            b.kill()


def signed_in(node: Node, username: str) -> requests.Session:
    session = requests.Session()
    token = csrf(session, f"{node.url}/login")
    credentials = {"username": username, "password": DEMO_PASSWORD, "csrf_token": token}
    response = session.post(f"{node.url}/login", data=credentials, allow_redirects=False)
    assert response.status_code == 302, response.text
    return session


def csrf(session: requests.Session, url: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"', session.get(url).text)
    assert match is not None, url
    return match.group(1) or match.group(2)


def edit_form(session: requests.Session, node: Node, code: str) -> dict[str, str | list[str]]:
    return form_fields(session.get(f"{node.url}/documents/{code}/edit").text, "document-form")


def with_sentence(fields: dict[str, str | list[str]], sentence: str) -> dict[str, str | list[str]]:
    return {**fields, "body": f"{fields['body']}\n{sentence}\n", "message": f"补充：{sentence[:8]}"}


def at_once(*calls: Callable[[], requests.Response]) -> list[requests.Response]:
    barrier = threading.Barrier(len(calls))
    answers: list[requests.Response | None] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        answers[index] = calls[index]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert all(answer is not None for answer in answers)
    return [answer for answer in answers if answer is not None]


def test_saves_on_both_nodes_at_once_all_land_and_one_document_from_one_base_has_one_winner(cluster: Cluster) -> None:
    a_admin, b_admin = signed_in(cluster.a, "admin"), signed_in(cluster.b, "admin")
    codes_a, codes_b = ["A101Z", "A104Z", "A105Z"], ["A106Z", "A101L", "A104L"]
    calls = []
    for session, node, codes in ((a_admin, cluster.a, codes_a), (b_admin, cluster.b, codes_b)):
        for code in codes:
            fields = with_sentence(edit_form(session, node, code), f"第九十九条 {code} 在节点 {node.name} 上补充的条款。")

            def post(session: requests.Session = session, node: Node = node, code: str = code, fields: dict = fields) -> requests.Response:  # type: ignore[type-arg]
                return session.post(f"{node.url}/documents/{code}/edit", data=fields, allow_redirects=False)

            calls.append(post)
    answers = at_once(*calls)
    assert [answer.status_code for answer in answers] == [302] * 6, [a.text[:300] for a in answers if a.status_code != 302]
    head = cluster.central_head()
    for node, codes in ((cluster.a, codes_a), (cluster.b, codes_b)):
        for code in codes:
            text = cluster.git("show", f"{head}:regulations/{code[0]}/{code[:2]}/{code}.md")
            assert f"第九十九条 {code} 在节点 {node.name} 上补充的条款。" in text

    mine, theirs = edit_form(a_admin, cluster.a, "A301Z"), edit_form(b_admin, cluster.b, "A301Z")
    assert mine["base"] == theirs["base"]
    sentence_a, sentence_b = "第八十八条 甲节点的修订。", "第八十八条 乙节点的修订。"
    answers = at_once(
        lambda: a_admin.post(f"{cluster.a.url}/documents/A301Z/edit", data=with_sentence(mine, sentence_a), allow_redirects=False),
        lambda: b_admin.post(f"{cluster.b.url}/documents/A301Z/edit", data=with_sentence(theirs, sentence_b), allow_redirects=False),
    )
    assert sorted(answer.status_code for answer in answers) == [302, 409]
    loser = next(answer for answer in answers if answer.status_code == 409)
    winner_sentence, loser_sentence = (sentence_b, sentence_a) if loser is answers[0] else (sentence_a, sentence_b)
    assert loser_sentence in str(form_fields(loser.text, "document-form")["body"])  # the loser's text is on the conflict page
    final = cluster.git("show", f"{cluster.central_head()}:regulations/A/A3/A301Z.md")
    assert winner_sentence in final and loser_sentence not in final
    assert cluster.cached() == cluster.central_head()
    cluster.assert_fsck_clean()


def test_a_save_on_one_node_is_visible_and_searchable_on_the_other_at_the_next_request(cluster: Cluster) -> None:
    admin = signed_in(cluster.a, "admin")  # one sign-in: the session is valid on every node
    word = "跨节点可见性验证条款"
    fields = with_sentence(edit_form(admin, cluster.a, "A101Z"), f"第七十七条 {word}。")
    assert admin.post(f"{cluster.a.url}/documents/A101Z/edit", data=fields, allow_redirects=False).status_code == 302
    page = admin.get(f"{cluster.b.url}/documents/A101Z")
    assert page.status_code == 200 and word in visible_text(page.text)
    found = admin.get(f"{cluster.b.url}/api/search", params={"q": word}).json()
    assert found["total"] == 1
    assert cluster.mirror_head(cluster.b) == cluster.central_head() == cluster.cached()


def test_a_draft_opened_on_one_node_is_reviewed_and_published_on_the_other(cluster: Cluster) -> None:
    editor_a, quality_b = signed_in(cluster.a, "jiaowu"), signed_in(cluster.b, "zhiliang")
    response = editor_a.post(
        f"{cluster.a.url}/documents/A101Z/revise",
        data={"kind": "revise", "reason": "落实新版专业目录", "csrf_token": csrf(editor_a, f"{cluster.a.url}/documents/A101Z/revise")},
        allow_redirects=False,
    )
    assert response.status_code == 302, response.text
    draft_id = int(re.search(r"/drafts/(\d+)", response.headers["Location"])[1])  # type: ignore[index]
    sentence = "第九条 专业设置须经专业建设指导委员会论证后报院长办公会审定。"
    fields = form_fields(editor_a.get(f"{cluster.a.url}/drafts/{draft_id}/edit").text, "document-form")
    fields.update(body=f"{fields['body']}\n{sentence}\n", message="补充专业论证条款")
    assert editor_a.post(f"{cluster.a.url}/drafts/{draft_id}/edit", data=fields, allow_redirects=False).status_code == 302
    page = f"{cluster.a.url}/drafts/{draft_id}"
    assert editor_a.post(f"{page}/submit", data={"csrf_token": csrf(editor_a, page)}).status_code == 200

    page = f"{cluster.b.url}/drafts/{draft_id}"
    review = quality_b.get(page)
    assert review.status_code == 200 and sentence in visible_text(review.text)  # the draft ref came from the central repository
    approval = {"approving_body": "院长办公会", "meeting_date": "2026-11-20", "doc_number": "包职院发〔2026〕12号"}
    approval["issue_date"] = "2026-11-25"
    assert quality_b.post(f"{page}/approve", data={**approval, "csrf_token": csrf(quality_b, page)}).status_code == 200
    published = quality_b.post(f"{page}/publish", data={"csrf_token": csrf(quality_b, page)})
    assert published.status_code == 200 and "需要处理" not in visible_text(published.text)
    assert sentence in cluster.git("show", f"{cluster.central_head()}:regulations/A/A1/A101Z.md")
    assert sentence in visible_text(editor_a.get(f"{cluster.a.url}/documents/A101Z").text)  # and node A reads it
    assert cluster.git("for-each-ref", "--format=%(refname)", "refs/drafts/") == f"refs/drafts/A101Z/{draft_id}"
    cluster.assert_fsck_clean()


@pytest.mark.parametrize("hook", ["pre-receive", "post-receive"])
def test_a_node_killed_in_the_middle_of_a_push_leaves_central_and_cache_consistent(cluster: Cluster, hook: str) -> None:
    """pre-receive: killed while the central repository decides (it may take the push or not);
    post-receive: after the central ref moved, before the node's mirror and the shared cache did.
    Either way the other node, `doctor` and the restarted node agree on one history with nothing half-written."""
    admin = signed_in(cluster.a, "admin")
    before = cluster.central_head()
    marker = cluster.central.parent / "brake"
    hook_file = cluster.central / "hooks" / hook
    hook_file.write_text(HOOK_WAIT.format(marker=marker), encoding="utf-8")
    hook_file.chmod(0o755)
    marker.touch()
    sentence = "第六十六条 保存途中节点被终止。"
    fields = with_sentence(edit_form(admin, cluster.a, "B601Z"), sentence)

    def save() -> None:
        with pytest.raises(requests.RequestException):  # the node dies with the request
            admin.post(f"{cluster.a.url}/documents/B601Z/edit", data=fields, timeout=60)

    saving = threading.Thread(target=save, daemon=True)
    saving.start()
    deadline = time.monotonic() + 60
    while not Path(f"{marker}.reached").exists():
        assert time.monotonic() < deadline, "the push never reached the central repository"
        time.sleep(0.05)
    cluster.a.kill()
    marker.unlink()
    hook_file.unlink()
    saving.join(60)
    time.sleep(0.5)  # receive-pack, whose client is gone, finishes (or dies) on its own

    after = cluster.central_head()
    assert after == before or cluster.git("rev-parse", f"{after}^") == before  # all of the save, or none of it
    if hook == "post-receive":
        assert after != before  # the central ref had moved when the node died …
    assert cluster.mirror_head(cluster.a) == before  # … and the node's mirror had not followed
    assert cluster.cached() == before  # the shared cache never heard of it

    reader = signed_in(cluster.b, "admin")
    assert reader.get(f"{cluster.b.url}/documents/B601Z").status_code == 200
    assert cluster.cached() == before  # no node moves the shared cache to a commit it does not record
    doctor = cluster.b.command("doctor", "--repair", check=False)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert cluster.cached() == after == cluster.mirror_head(cluster.b)
    cluster.a.start()  # its first start fetches: the mirror follows the central repository
    assert cluster.mirror_head(cluster.a) == after
    text = visible_text(admin.get(f"{cluster.a.url}/documents/B601Z").text)
    assert (sentence in text) == (after != before)
    assert cluster.a.command("doctor", check=False).returncode == 0
    cluster.assert_fsck_clean()
