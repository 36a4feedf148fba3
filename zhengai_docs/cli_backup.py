"""`zhengai-docs backup` and `restore` (registered on the main group by `cli.py`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from zhengai_docs.backup import create_backup, restore_backup
from zhengai_docs.cli import _errors
from zhengai_docs.services import instance_secret

if TYPE_CHECKING:
    from zhengai_docs.cli import _Context


def _step(message: str) -> None:
    click.echo(f"… {message}", err=True)


@click.command("backup")
@click.argument("destination", type=click.Path(file_okay=False, path_type=Path))
@click.pass_obj
def backup(ctx: _Context, destination: Path) -> None:
    """Write a consistent backup of this instance to DESTINATION (a new folder) while it keeps serving.

    The backup holds every ref of the content repository (drafts included), every table that is
    not a cache, the secret key and config.toml, with a manifest and SHA-256 checksums. Exits 1
    when the backup had to warn (a database row naming a commit the repository lacks).

    Examples:
      zhengai-docs backup /var/backups/zhengai/$(date +%F-%H%M)
      zhengai-docs --instance /srv/zhengai backup /mnt/nas/zhengai/$(date +%F)
    """
    svc = ctx.services
    with _errors():
        secret = svc.settings["SECRET_KEY"] or instance_secret(svc.instance_path)
        summary = create_backup(
            destination=destination, db=svc.db, repo=svc.library.repo, instance=svc.instance_path, secret_key=secret, step=_step
        )
    manifest = summary.manifest
    rows = sum(t.rows for t in manifest.tables.values())
    size = sum(f.size for f in manifest.files.values()) / 1e6
    head = (manifest.head or "")[:12] or "（空仓库）"
    click.echo(f"备份已完成：{summary.path}")
    click.echo(f"  内容仓库：{len(manifest.refs)} 个引用，{manifest.branch} 位于 {head}")
    click.echo(f"  数据库：{len(manifest.tables)} 张表，{rows} 行（结构版本 {manifest.schema_revision}）；共 {size:.1f} MB")
    for warning in manifest.warnings:
        click.echo(f"警告：{warning}", err=True)
    if manifest.warnings:
        sys.exit(1)


@click.command("restore")
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--keep-database-url",
    is_flag=True,
    help="Also take DATABASE_URL from the backup's config.toml (default: the target's own setting, SQLite in the instance folder).",
)
@click.pass_obj
def restore(ctx: _Context, source: Path, keep_database_url: bool) -> None:
    """Build a working instance from a backup, on SQLite or PostgreSQL, e.g. on a new machine.

    The target instance must have no content repository and an empty database; set its
    DATABASE_URL (config.toml or ZHENGAI_DATABASE_URL) first to restore into PostgreSQL. Every
    checksum is verified before anything is written; a failed restore leaves the target as it was.
    Exits 1 when doctor still reports a problem afterwards.

    Examples:
      zhengai-docs --instance /srv/zhengai restore /var/backups/zhengai/2026-11-23-0200
      ZHENGAI_DATABASE_URL=postgresql+psycopg://zhengai@localhost/zhengai zhengai-docs --instance /srv/new restore BACKUP
    """
    with _errors():
        summary = restore_backup(source=source, instance=ctx.instance_path, keep_database_url=keep_database_url, step=_step)
    manifest = summary.manifest
    click.echo(f"已恢复到实例 {summary.instance}（备份时间 {manifest.created_at:%Y-%m-%d %H:%M} UTC）")
    click.echo(f"  内容仓库：{len(manifest.refs)} 个引用；缓存与搜索索引已重建：{summary.documents} 份文档")
    click.echo(f"  数据库 {summary.database}：{len(summary.rows)} 张表，{sum(summary.rows.values())} 行")
    for name in summary.dropped_settings:
        click.echo(f"  未沿用备份中的设置 {name}（属于原机器），使用本实例的设置", err=True)
    for problem in summary.problems:
        click.echo(f"  doctor：{problem}")
    if summary.problems:
        click.echo("恢复后的检查发现问题，请查看上面的说明并运行 zhengai-docs doctor", err=True)
        sys.exit(1)
    click.echo("检查通过（doctor）：可以启动服务")


COMMANDS = (backup, restore)


def register(group: click.Group) -> None:
    for command in COMMANDS:
        group.add_command(command)
