"""`zhengai-docs indicators …` commands and the `audit --warnings` check (registered by `cli.py`)."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from zhengai_docs.cli import _errors, _today, echo_remind_report
from zhengai_docs.cycles.remind import Outbox
from zhengai_docs.indicators import importer, periods
from zhengai_docs.indicators import remind as indicator_remind
from zhengai_docs.indicators.board import Board, build_board
from zhengai_docs.indicators.status import Status
from zhengai_docs.notify import SmtpSettings
from zhengai_docs.permissions import SYSTEM_AUTHOR, Actor

if TYPE_CHECKING:
    from zhengai_docs.cli import _Context
    from zhengai_docs.services import Services

_TODAY = click.DateTime(formats=["%Y-%m-%d"])


def board_at(svc: Services, today: dt.date) -> Board:
    return build_board(svc.db, today=today)


def audit_warnings(svc: Services, today: dt.date) -> bool:
    """Print every indicator in 预警 in its due period; True (the audit fails) when there is one."""
    board = board_at(svc, today)
    warned = board.with_status(Status.WARNING)
    missing = board.with_status(Status.MISSING)
    click.echo(f"质控指标：{len(board.states)} 项，预警 {len(warned)} 项，未填报 {len(missing)} 项（按 {today} 判定）")
    for state in warned:
        i = state.indicator
        warning = i.warning.text if i.warning else ""
        click.echo(f"  预警 {i.code} {i.name}（{periods.label(state.period)}）：{state.value}，预警值 {warning}，目标值 {i.target.text}")
    return bool(warned)


@click.group("indicators")
def indicators() -> None:
    """质控指标: import measured values, remind the responsible departments."""


@indicators.command("import")
@click.argument("table", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--apply", "apply_", is_flag=True, help="Write the values (without it: only the report).")
@click.option("--author", default=SYSTEM_AUTHOR.name, show_default=True, help="Name recorded as who entered the values.")
@click.option("--today", type=_TODAY, help="Judge periods as of this date (YYYY-MM-DD).")
@click.pass_obj
def import_values(ctx: _Context, table: Path, apply_: bool, author: str, today: Any) -> None:
    """Import values from a CSV/XLSX export of the data platform (report first; --apply writes).

    Columns: 标准, 指标 (编号 or name), 周期, 数值, optional 备注 — or 平台编号, 周期, 数值.
    Rows equal to the current value are skipped; problems are listed by row and nothing is
    written while there are any. Exits 1 when a row has a problem.

    Examples:
      zhengai-docs indicators import 2025-2026学年状态数据.xlsx
      zhengai-docs indicators import 2025-2026学年状态数据.xlsx --apply --author 教务处
    """
    svc = ctx.services
    actor = Actor.system(name=author)
    with _errors():
        svc.library.sync()
        plan = importer.plan_file(svc.db, table, policy=svc.library.policy, actor=actor, today=_today(today))
        for row in plan.rows:
            click.echo(importer.describe(row))
        click.echo(f"新增或更正 {len(plan.rows)} 个数值，与现有数值相同而略过 {plan.unchanged} 行，问题 {len(plan.problems)} 行。")
        for problem in plan.problems:
            click.echo(f"问题：{problem}", err=True)
        if apply_ and plan.ok:
            written = importer.apply(svc.db, plan, actor=actor)
            click.echo(f"已导入 {written} 个数值。")
        elif apply_:
            click.echo("有问题行，未导入任何数值；请修改后重新导入。", err=True)
        elif plan.rows:
            click.echo("这是预览；加 --apply 写入。")
    if plan.problems:
        sys.exit(1)


@indicators.command("remind")
@click.option("--today", type=_TODAY, help="Evaluate as of this date (YYYY-MM-DD) instead of today in Asia/Shanghai.")
@click.option("--dry-run", is_flag=True, help="List who would be reminded of what; send and record nothing.")
@click.pass_obj
def remind(ctx: _Context, today: Any, dry_run: bool) -> None:
    """E-mail the responsible editors their indicators in warning and values still missing (for cron).

    A due period's missing values are reminded INDICATOR_DUE_DAYS after it ended; each reminder
    is sent once per standard, stage and recipient (a new warning reminds again). Exits 1 when a
    message could not be sent.

    Examples:
      zhengai-docs indicators remind --dry-run
      zhengai-docs indicators remind      # e.g. from cron: 0 8 * * 1
    """
    svc = ctx.services
    with _errors():
        svc.library.sync()
        result = indicator_remind.remind(
            svc.db,
            board=board_at(svc, _today(today)),
            due_days=int(svc.settings["INDICATOR_DUE_DAYS"]),
            smtp=SmtpSettings.from_settings(svc.settings),
            webhook_url=svc.settings["REMINDER_WEBHOOK_URL"],
            outbox=Outbox(college=svc.settings["COLLEGE_NAME"], site_url=svc.settings["SITE_URL"]),
            dry_run=dry_run,
        )
    echo_remind_report(result, dry_run=dry_run, kind="指标")


def register(cli: click.Group) -> None:
    cli.add_command(indicators)
