"""`zhengai-docs remote …` and the central repository's part of `doctor` (CONTENT_REMOTE)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from zhengai_docs.errors import StorageError
from zhengai_docs.services import Services
from zhengai_docs.storage.remote import init_central


def doctor_remote(svc: Services) -> tuple[bool, bool]:
    """Fetch the central repository and prove that it refuses non-fast-forward updates and
    deletions. Returns (a problem remains, the central repository was reached); without
    CONTENT_REMOTE there is nothing to check."""
    remote = svc.library.repo.remote
    if remote is None:
        return False, True
    try:
        remote.fetch()
        problems = remote.check_central()
    except StorageError as exc:
        click.echo(f"中央内容仓库：未通过：{exc}（本机镜像照常可读；缓存未与之比对）")
        return True, False
    for problem in problems:
        click.echo(f"  中央内容仓库：{problem}（需人工处理）")
    click.echo("中央内容仓库：已获取最新提交" + ("，保护设置有问题（见上）" if problems else "，拒绝非快进更新和删除分支"))
    return bool(problems), True


def register(cli: click.Group) -> None:
    @cli.group()
    def remote() -> None:
        """The central content repository that several machines share (CONTENT_REMOTE)."""

    @remote.command("init-central")
    @click.argument("path", type=click.Path(file_okay=False, path_type=Path))
    @click.option("--branch", default="main", show_default=True, help="Branch whose head is the content in force.")
    def init_central_command(path: Path, branch: str) -> None:
        """Create (or bring into line) a central bare repository for CONTENT_REMOTE.

        It refuses non-fast-forward updates of every ref (receive.denyNonFastForwards) and, by
        its update hook, the deletion of branches and of refs/drafts-orphaned/; draft refs may be
        moved aside. Safe to run again. The first node's `init` (or its first start) fills it.

        Examples:
          zhengai-docs remote init-central /srv/git/zhengai-content.git
          git daemon --base-path=/srv/git --export-all --enable=receive-pack   # git:// on a trusted network only
        """
        try:
            made = init_central(path, branch=branch)
        except StorageError as exc:
            click.echo(f"错误：{exc}", err=True)
            sys.exit(1)
        click.echo(f"中央内容仓库已就绪：{made.resolve()}")
        click.echo(f'各节点设置 CONTENT_REMOTE = "file://{made.resolve()}"（或 ssh:// 等网络地址），然后运行 zhengai-docs init')
