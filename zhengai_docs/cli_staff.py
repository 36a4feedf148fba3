"""`zhengai-docs import-staff` (registered on the main group by `cli.py`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from zhengai_docs.cli import _errors
from zhengai_docs.permissions import Actor
from zhengai_docs.staff_import import StaffChange, StaffPlan, apply_import, plan_import

if TYPE_CHECKING:
    from zhengai_docs.cli import _Context


def _list(title: str, changes: list[StaffChange]) -> None:
    if changes:
        click.echo(f"{title}：{len(changes)} 人")
        for change in changes:
            click.echo(f"  {change.staff_number} {change.name}（{change.username}）：{'；'.join(change.details)}")


def report(plan: StaffPlan, *, applied: bool) -> None:
    click.echo(
        f"表中共 {plan.rows} 行；{plan.changes} 项变更{'（已执行）' if applied else '（试运行，未修改；确认无误后加 --apply 执行）'}"
    )
    _list("新建账号", plan.created)
    _list("更新账号", plan.updated)
    _list("停用账号（离职或调离，账号和历史记录保留）", plan.disabled)
    click.echo(f"无变化：{plan.unchanged} 人")
    if plan.unknown_departments:
        click.echo("部门列表中没有的部门（未新建；这些人员暂无所属部门，请在“部门”页面添加或设置映射规则）：")
        for name, lines in sorted(plan.unknown_departments.items()):
            shown = "、".join(str(n) for n in lines[:10]) + ("…" if len(lines) > 10 else "")
            click.echo(f"  {name}（{len(lines)} 人，第 {shown} 行）")
    if plan.problems:
        click.echo(f"发现 {len(plan.problems)} 个问题：")
        for problem in plan.problems:
            click.echo(f"  {problem}")


@click.command("import-staff")
@click.argument("table", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--apply", "apply_changes", is_flag=True, help="Apply the changes (without it: a dry run that only lists them).")
@click.pass_obj
def import_staff(ctx: _Context, table: Path, apply_changes: bool) -> None:
    """Import the staff list (CSV or XLSX with 工号, 姓名, 部门, 邮箱, 角色) from the data exchange centre.

    Lists what would change first; --apply creates and updates the accounts and disables those
    whose 工号 is no longer listed (never deleted). Unknown departments are listed, never created.
    Exits 1 when a row had a problem.

    Examples:
      zhengai-docs import-staff 教职工.xlsx
      zhengai-docs import-staff 教职工.xlsx --apply
    """
    svc = ctx.services
    with _errors():
        catalogue, _ = svc.library.catalogue()
        known = tuple(catalogue.departments)
        if apply_changes:
            plan = apply_import(svc.db, path=table, known_departments=known, actor=Actor.system())  # the operator, on the server
        else:
            plan = plan_import(svc.db, path=table, known_departments=known)
    report(plan, applied=apply_changes)
    if plan.problems:
        sys.exit(1)


def register(group: click.Group) -> None:
    group.add_command(import_staff)
