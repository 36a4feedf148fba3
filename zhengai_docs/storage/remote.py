"""A central content repository reached through git's own protocol (`CONTENT_REMOTE`).

When several machines serve one library, each node's content repository is a local mirror of a
central bare repository. The mirror's refs follow the central ones — the branch and the draft
namespaces, fetched under the same names — so every reader (history, the cache, the index)
works on the mirror exactly as on a single machine. Writes are what changes:

- every ref update (the branch, a draft ref created, moved, set aside or deleted) is *published*
  first: pushed to the central repository as a compare-and-swap on the central ref;
- only after the central ref moved does the mirror's ref move (`_advance`), so a mirror is never
  ahead of the central repository, only behind it, and "behind" is cured by a fetch;
- a push that lost the race fetches and answers False, so the caller's existing retry logic
  runs on the new head: retried when only other documents moved, `Conflict` when its own did.

A crash (SIGKILL) between the push and the mirror's update leaves the central ref ahead of this
mirror, which the next fetch (a request that sees the shared cache moved, the follower, the next
write's lost push) brings along; nothing is half-written on either side.

The central repository refuses non-fast-forward updates (`receive.denyNonFastForwards`) and the
deletion of branches and of kept draft refs (its `update` hook): `init_central` sets one up and
`check_central` (for `doctor`) proves that it refuses them, with a probe branch of its own.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from zhengai_docs.errors import StorageError, StorageUnavailable
from zhengai_docs.storage import faults

REMOTE_NAME = "central"
CENTRAL = "中央内容仓库"
PROBE_REF = "refs/heads/zhengai-doctor-probe"
ZERO = "0" * 40
# The draft namespaces storage/drafts.py writes (live, discarded, orphaned), mirrored under the
# same names. `+`: a draft ref may legitimately be deleted and made again elsewhere centrally
# (discard, then a restored database reusing the id); a stale mirror ref is harmless because
# every write is checked against the central value, never the mirror's.
DRAFT_NAMESPACES = ("refs/drafts", "refs/drafts-discarded", "refs/drafts-orphaned")
_URL = re.compile(r"(?:file|ssh|git|https?)://\S+|[A-Za-z0-9._-]+@[A-Za-z0-9._-]+:\S+")
_SHA = re.compile(r"[0-9a-f]{40}")
_REF = re.compile(r"refs/(?:heads/[a-z][a-z0-9-]{0,40}|drafts(?:-discarded|-orphaned)?/[A-Za-z0-9/_-]+)")

UPDATE_HOOK = """#!/bin/sh
# zhengai-docs central content repository: branches and kept draft refs are never deleted.
# (receive.denyNonFastForwards refuses non-fast-forward updates of every ref.)
ref="$1"
new="$3"
case "$new" in
  *[!0]*) exit 0 ;;
esac
case "$ref" in
  refs/heads/*|refs/drafts-orphaned/*)
    echo "zhengai-docs: deleting $ref is refused by the central content repository" >&2
    exit 1 ;;
esac
exit 0
"""


def valid_url(url: str) -> str:
    """The URL, if it is one git's protocol can reach (file, ssh, git, http(s), or scp-like ssh)."""
    url = url.strip()
    if _URL.fullmatch(url) is None or url.startswith("-"):
        raise StorageError(f"CONTENT_REMOTE 不是有效的 git 地址：{url!r}（应为 file://、ssh://、git://、http(s):// 地址）")
    return url


@dataclass(frozen=True)
class PushOutcome:
    """What the central repository answered for one ref: accepted, or rejected with a reason."""

    accepted: bool
    reason: str


class Remote:
    """The central repository as one node's mirror sees it: publish (CAS push) and fetch."""

    def __init__(self, *, url: str, mirror: Path, branch: str, timeout: float = 20.0) -> None:
        self.url = valid_url(url)
        self.mirror = Path(mirror)
        self.branch = branch
        self.timeout = timeout
        self._fetch_lock = threading.Lock()
        self._last_fetch_started = 0.0

    @property
    def refspecs(self) -> list[str]:
        """The branch without `+`: the central branch only moves forward, so a fetch that would move
        the mirror's branch backwards (a stale answer) is refused rather than applied."""
        branch = f"refs/heads/{self.branch}"
        return [f"{branch}:{branch}", *(f"+{ns}/*:{ns}/*" for ns in DRAFT_NAMESPACES)]

    # -- setting up ------------------------------------------------------------------------

    def attach(self) -> None:
        """Point the mirror at the central repository, then fetch (a new mirror: a clone).

        A central repository without the branch is seeded from the mirror (a single-machine
        instance becoming the first node): its refs are pushed as creations, never over others."""
        self._configure()
        central = self.list_central()
        local_branch = self._local(f"refs/heads/{self.branch}")
        if f"refs/heads/{self.branch}" not in central and local_branch is not None:
            refs = [f"{ns}/*:{ns}/*" for ns in DRAFT_NAMESPACES]
            self._push([f"--force-with-lease=refs/heads/{self.branch}:", f"{local_branch}:refs/heads/{self.branch}", *refs])
        self.fetch()

    def _configure(self) -> None:
        """Write the remote's URL and refspecs into the mirror's config (only when they differ)."""
        current_url = self._git(["config", "--get", f"remote.{REMOTE_NAME}.url"], check=False).stdout.decode().strip()
        current_specs = self._git(["config", "--get-all", f"remote.{REMOTE_NAME}.fetch"], check=False).stdout.decode().split()
        if current_url == self.url and current_specs == self.refspecs:
            return
        self._git(["config", f"remote.{REMOTE_NAME}.url", self.url])
        self._git(["config", "--unset-all", f"remote.{REMOTE_NAME}.fetch"], check=False)
        for spec in self.refspecs:
            self._git(["config", "--add", f"remote.{REMOTE_NAME}.fetch", spec])

    # -- reading ---------------------------------------------------------------------------

    def fetch(self) -> None:
        """Bring the mirror's refs to the central ones (`--prune`: refs deleted centrally go).

        One fetch at a time per process; a caller that waited for a fetch which *started* after
        it asked, and succeeded, is served by that fetch and starts none. Unreachable: StorageUnavailable."""
        asked = time.monotonic()
        with self._fetch_lock:
            if self._last_fetch_started > asked:
                return
            started = time.monotonic()
            problem = ""
            specs = self.refspecs
            for _attempt in range(3):  # a ref locked by this node's own writer at that moment: again
                result = self._network(["fetch", "--prune", "--no-tags", "--quiet", self.url, *specs])
                if result.returncode == 0:
                    self._last_fetch_started = started
                    return
                problem = _first_line(result.stderr)
                if f"couldn't find remote ref refs/heads/{self.branch}" in problem:
                    specs = self.refspecs[1:]  # a central repository without the branch yet: drafts only
                    continue
                time.sleep(0.05)
            raise StorageUnavailable(store=CENTRAL, cause=f"无法获取：{problem}")

    def list_central(self) -> dict[str, str]:
        """The central repository's refs in the mirrored namespaces (`git ls-remote`)."""
        patterns = [f"refs/heads/{self.branch}", *(f"{ns}/*" for ns in DRAFT_NAMESPACES)]
        result = self._network(["ls-remote", self.url, *patterns])
        if result.returncode != 0:
            raise StorageUnavailable(store=CENTRAL, cause=f"无法连接：{_first_line(result.stderr)}")
        refs = {}
        for line in result.stdout.decode("ascii", "replace").splitlines():
            sha, _, name = line.partition("\t")
            if _SHA.fullmatch(sha):
                refs[name] = sha
        return refs

    # -- writing ---------------------------------------------------------------------------

    def publish(self, ref: str, *, new: str | None, old: str | None) -> bool:
        """Move `ref` from `old` to `new` (None: absent) centrally, then in the mirror.

        True: the central ref moved and the mirror follows. False: the central ref was not at
        `old` (a lost race); the mirror has been fetched, so the caller retries on what is there.
        StorageError when the central repository refuses the update itself (a non-fast-forward
        or a deletion it protects); StorageUnavailable when it cannot be reached.

        Compare-and-swap: `git push --force-with-lease=<ref>:<old>` makes the client refuse unless
        the central repository advertises exactly `old`, and receive-pack then updates the ref in
        a transaction that verifies, under the ref's lock, that it still holds that value. A plain
        push would compare with whatever was advertised when the connection opened, not with the
        commit the writer started from, and could not express "create only if absent" or "delete
        only if still at". The lease is no force in effect: the central repository's
        `receive.denyNonFastForwards` still refuses any update that is not a fast-forward, and
        nothing here ever uses `+` or `--force`.
        """
        if (
            _REF.fullmatch(ref) is None
            or (new is not None and _SHA.fullmatch(new) is None)
            or (old is not None and _SHA.fullmatch(old) is None)
        ):
            raise StorageError(f"不允许的引用更新：{ref} {old} → {new}")
        outcome = self._push([f"--force-with-lease={ref}:{old or ''}", f"{new or ''}:{ref}"])
        if outcome.accepted:
            self._advance(ref, new=new, old=old)
            return True
        self.fetch()
        if self._local(ref) != old:  # the central ref is elsewhere: someone else's write came first
            return False
        raise StorageError(f"{CENTRAL}拒绝了对 {ref} 的更新：{outcome.reason}")

    def _push(self, args: Sequence[str]) -> PushOutcome:
        """One atomic push; its porcelain answer says per ref whether it was taken (`!`: not)."""
        result = self._network(["push", "--atomic", "--porcelain", "--no-verify", self.url, *args])
        lines = [line.split("\t") for line in result.stdout.decode("utf-8", "replace").splitlines()]
        statuses = [fields for fields in lines if len(fields) >= 3 and fields[0] in ("!", " ", "+", "-", "*", "=")]
        if not statuses:
            raise StorageUnavailable(store=CENTRAL, cause=f"无法连接：{_first_line(result.stderr) or '没有回应'}")
        rejected = [fields for fields in statuses if fields[0] == "!"]
        if rejected:
            return PushOutcome(accepted=False, reason=rejected[0][2])
        return PushOutcome(accepted=True, reason="")

    def _advance(self, ref: str, *, new: str | None, old: str | None) -> None:
        """Make the mirror's ref follow the central one the push just moved.

        The mirror's ref may meanwhile have been moved by a fetch (this node's other threads or
        processes): already at `new` or past it is fine; anything else is a stale value the
        central repository has left behind, replaced by a compare-and-swap on what is there."""
        expected = old
        for _attempt in range(5):
            args = ["update-ref", "-m", "zhengai-docs publish"]
            args += [ref, new, expected or ZERO] if new is not None else ["-d", ref, expected or ZERO]
            result = self._git(args, check=False)
            if result.returncode == 0:
                return
            fault = faults.from_git(result.stderr.decode(errors="replace"), store=faults.REPOSITORY, directories=(self.mirror / "refs",))
            if fault is not None:
                raise fault
            current = self._local(ref)
            if current == new or (new is not None and current is not None and self._is_ancestor(new, current)):
                return
            expected = current
            time.sleep(0.01)
        self.fetch()

    # -- the central repository's own rules (doctor) ---------------------------------------

    def check_central(self) -> list[str]:
        """Problems with the central repository's protection, proven with a probe branch of its
        own (`PROBE_REF`, created once at the branch head): deleting it and moving it to an
        unrelated commit must both be refused. Empty when the central repository refuses both."""
        problems = []
        central = self.list_central_ref(PROBE_REF)
        head = self._local(f"refs/heads/{self.branch}")
        if head is None:
            return [f"{CENTRAL}还没有分支 {self.branch}，无法检查它是否拒绝删除和非快进更新"]
        if central is None:
            if not self._push([f"--force-with-lease={PROBE_REF}:", f"{head}:{PROBE_REF}"]).accepted:
                return [f"无法在{CENTRAL}创建检查用的分支 {PROBE_REF}"]
            central = head
        if self._push([f"--force-with-lease={PROBE_REF}:{central}", f":{PROBE_REF}"]).accepted:
            problems.append(f"{CENTRAL}允许删除分支（应由 update 钩子拒绝；请用 zhengai-docs remote init-central 重新配置）")
            self._push([f"--force-with-lease={PROBE_REF}:", f"{central}:{PROBE_REF}"])
        unrelated = self._unrelated_commit()
        if self._push([f"--force-with-lease={PROBE_REF}:{central}", f"{unrelated}:{PROBE_REF}"]).accepted:
            problems.append(f"{CENTRAL}接受非快进更新（应设 receive.denyNonFastForwards = true）")
            self._push([f"--force-with-lease={PROBE_REF}:{unrelated}", f"{central}:{PROBE_REF}"])
        return problems

    def list_central_ref(self, ref: str) -> str | None:
        result = self._network(["ls-remote", self.url, ref])
        if result.returncode != 0:
            raise StorageUnavailable(store=CENTRAL, cause=f"无法连接：{_first_line(result.stderr)}")
        for line in result.stdout.decode("ascii", "replace").splitlines():
            sha, _, name = line.partition("\t")
            if name == ref and _SHA.fullmatch(sha):
                return sha
        return None

    def _unrelated_commit(self) -> str:
        """A root commit with an empty tree, written into the mirror (unreferenced; gc removes it)."""
        tree = self._git(["mktree"], input=b"").stdout.decode().strip()
        env = {"GIT_AUTHOR_NAME": "zhengai-docs doctor", "GIT_AUTHOR_EMAIL": "doctor@zhengai-docs.invalid"}
        env |= {"GIT_COMMITTER_NAME": env["GIT_AUTHOR_NAME"], "GIT_COMMITTER_EMAIL": env["GIT_AUTHOR_EMAIL"]}
        return (
            self._git(["commit-tree", tree, "-m", "zhengai-docs doctor: probe of non-fast-forward refusal"], env=env)
            .stdout.decode()
            .strip()
        )

    # -- internals -------------------------------------------------------------------------

    def _local(self, ref: str) -> str | None:
        result = self._git(["rev-parse", "--verify", "--quiet", "--end-of-options", ref], check=False)
        value = result.stdout.decode().strip()
        return value if result.returncode == 0 and _SHA.fullmatch(value) else None

    def _is_ancestor(self, ancestor: str, descendant: str) -> bool:
        return self._git(["merge-base", "--is-ancestor", ancestor, descendant], check=False).returncode == 0

    def _environment(self, env: Mapping[str, str] | None = None) -> dict[str, str]:
        full = {**os.environ, "GIT_DIR": str(self.mirror), "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", **(env or {})}
        full.pop("GIT_WORK_TREE", None)
        # ssh never asks anything (a password prompt would hang a save) and gives up in time
        full.setdefault("GIT_SSH_COMMAND", f"ssh -o BatchMode=yes -o ConnectTimeout={max(1, int(self.timeout))}")
        return full

    def _network(self, args: list[str]) -> subprocess.CompletedProcess[bytes]:
        """A git command that talks to the central repository, stopped after `timeout` seconds."""
        command = ["git", "-c", "gc.auto=0", "-c", "maintenance.auto=false", "-c", "http.lowSpeedLimit=1000"]
        command += ["-c", f"http.lowSpeedTime={max(1, int(self.timeout))}", *args]
        try:
            return subprocess.run(command, capture_output=True, env=self._environment(), timeout=self.timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise StorageUnavailable(store=CENTRAL, cause=f"{self.timeout:g} 秒内没有回应") from exc

    def _git(
        self, args: list[str], *, input: bytes | None = None, env: Mapping[str, str] | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[bytes]:
        try:
            result = subprocess.run(["git", *args], input=input, capture_output=True, env=self._environment(env), timeout=120, check=False)
        except subprocess.TimeoutExpired as exc:
            raise StorageError(f"git {args[0]} 超时") from exc
        if check and result.returncode != 0:
            raise StorageError(f"git {args[0]} 失败：{_first_line(result.stderr)}")
        return result


def init_central(path: Path, *, branch: str = "main") -> Path:
    """Create (or bring into line) a central bare repository: non-fast-forward updates refused
    for every ref, deletions of branches and kept draft refs refused by its `update` hook, and
    exported for `git daemon`. Safe to run again on the same repository."""
    path = Path(path)
    if not (path / "HEAD").is_file():
        path.mkdir(parents=True, exist_ok=True)
        _central_git(path, "init", "--quiet", "--bare", f"--initial-branch={branch}")
    for key, value in (
        ("receive.denyNonFastForwards", "true"),
        # deletions of draft refs must pass (a discarded draft's ref is moved aside); the hook
        # refuses those of branches and of refs/drafts-orphaned/
        ("receive.denyDeletes", "false"),
        ("receive.fsckObjects", "true"),
        ("core.commitGraph", "true"),
        ("core.logAllRefUpdates", "always"),
    ):
        _central_git(path, "config", key, value)
    hook = path / "hooks" / "update"
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text(UPDATE_HOOK, encoding="utf-8")
    hook.chmod(0o755)
    (path / "git-daemon-export-ok").touch()
    return path


def _central_git(path: Path, *args: str) -> None:
    env = {**os.environ, "GIT_DIR": str(path), "LC_ALL": "C"}
    env.pop("GIT_WORK_TREE", None)
    result = subprocess.run(["git", *args], capture_output=True, env=env, timeout=60, check=False)
    if result.returncode != 0:
        raise StorageError(f"git {args[0]} 失败：{_first_line(result.stderr)}")


def _first_line(stderr: bytes) -> str:
    for line in stderr.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if line and not line.startswith("hint:"):
            return line.removeprefix("fatal: ").removeprefix("error: ")
    return ""
