"""The `zhengai-docs` command: thin click commands over the service functions."""

from __future__ import annotations

import datetime as dt
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from zhengai_docs import coverage, health
from zhengai_docs.attachments.store import size_label
from zhengai_docs.bootstrap import DEMO_COLLEGE, DEMO_PASSWORD, SYSTEM_AUTHOR, initialise, remember_demo_college
from zhengai_docs.catalogue.framework import framework_from_file
from zhengai_docs.cycles import report as cycle_report
from zhengai_docs.cycles import rules as cycle_rules
from zhengai_docs.cycles.remind import Outbox, RemindReport
from zhengai_docs.cycles.remind import remind as remind_editors
from zhengai_docs.db.doctor import Diagnosis, department_problems, diagnose
from zhengai_docs.db.sync import cached_commit, rebuild
from zhengai_docs.errors import StorageError, ZhengaiError
from zhengai_docs.notify import SmtpSettings
from zhengai_docs.permissions import Actor
from zhengai_docs.search.backend import IndexMissing
from zhengai_docs.search.indexer import SAVE_WAIT, SearchIndex, sync_index
from zhengai_docs.services import Services, instance_path_from, load_services
from zhengai_docs.storage.files import largest_objects, repository_size
from zhengai_docs.users import Role, check_credentials, create_user
from zhengai_docs.workflow import FindingState, reconcile_drafts


class _Context:
    """The instance a command works on; its services are built on first use, without Flask."""

    def __init__(self, instance: str | None) -> None:
        self.instance_path = instance_path_from(instance)
        self._services: Services | None = None

    @property
    def services(self) -> Services:
        if self._services is None:
            self._services = load_services(self.instance_path)
        return self._services

    def close(self) -> None:
        """Release the database's connections when the command ends (PostgreSQL counts them)."""
        if self._services is not None:
            self._services.close()
            self._services = None


pass_context = click.make_pass_decorator(_Context)


@click.group()
@click.option(
    "--instance",
    envvar="ZHENGAI_INSTANCE_PATH",
    type=click.Path(file_okay=False),
    help="Instance folder (settings, content repository, database). Default: Flask's instance folder.",
)
@click.version_option(package_name="zhengai-docs")
@click.pass_context
def cli(ctx: click.Context, instance: str | None) -> None:
    """zhengai-docs: 诊改 制度—流程—标准 documents kept in git."""
    ctx.obj = _Context(instance)
    ctx.call_on_close(ctx.obj.close)


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except ZhengaiError as exc:
        click.echo(f"错误：{exc}", err=True)
        sys.exit(1)


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int, int], None]]:
    bar: Any = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = click.progressbar(length=total, label=label, file=sys.stderr)
            bar.__enter__()
        bar.update(done - bar.pos)

    try:
        yield update
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


@cli.command()
@click.option("--demo", is_flag=True, help="Load the bundled 60-item catalogue, sample documents and one demo account per role.")
@click.option("--admin", "admin_name", default="admin", show_default=True, help="User name of the first administrator.")
@click.option("--admin-password", help="Password of the first administrator (default: generated and printed once).")
@pass_context
def init(ctx: _Context, demo: bool, admin_name: str, admin_password: str | None) -> None:
    """Create the content repository and the database, and the first administrator.

    Safe to run again: an existing repository is adopted, the schema is migrated, nothing is
    overwritten.

    Examples:
      zhengai-docs init --demo
      zhengai-docs --instance /srv/zhengai init --admin-password 'a long secret'
    """
    svc = ctx.services
    with _errors(), _progress("导入示例文档") as progress:
        report = initialise(repo=svc.library.repo, db=svc.db, demo=demo, progress=progress)
    click.echo(f"内容仓库：{svc.library.repo.path}（{'新建' if report.created_repository else '已存在，沿用'}）")
    click.echo(f"数据库：{svc.db.url}")
    if report.demo_documents:
        click.echo(f"已导入示例内容：{report.catalogue_items} 个目录条目，{report.demo_documents} 份文档")
    if report.users:
        click.echo(f"已创建示例账号（密码均为 {DEMO_PASSWORD}）：{', '.join(report.users)}")
    if demo and remember_demo_college(ctx.instance_path):
        click.echo(f"已在 config.toml 中设置学校名称：{DEMO_COLLEGE}")
    _build_missing_index(svc)
    if not demo and check_credentials(svc.db, username=admin_name, password="") is None:
        password = admin_password or secrets.token_urlsafe(12)
        with _errors():
            try:
                create_user(svc.db, username=admin_name, password=password, role=Role.ADMIN, display_name="系统管理员")
            except ZhengaiError as exc:
                if "已存在" not in str(exc):
                    raise
                click.echo(f"管理员 {admin_name} 已存在，未修改。")
                return
        click.echo(f"已创建管理员 {admin_name}，密码：{password}" + ("" if admin_password else "（请登录后立即修改）"))


@cli.command()
@click.option("--host", help="Address to listen on (default: the HOST setting, 127.0.0.1).")
@click.option("--port", type=int, help="Port (default: the PORT setting, 5000).")
@click.option("--workers", type=int, help="Worker processes (default: the WORKERS setting, 1). More than 1 runs gunicorn (Linux).")
@click.option("--threads", type=int, help="Threads per worker (default: the THREADS setting; unset, 8 in one process, 2 with --workers).")
@pass_context
def serve(ctx: _Context, host: str | None, port: int | None, workers: int | None, threads: int | None) -> None:
    """Serve the web application: waitress in one process, gunicorn with several workers.

    Examples:
      zhengai-docs serve
      zhengai-docs serve --host 0.0.0.0 --port 8080
      zhengai-docs serve --host 127.0.0.1 --port 8000 --workers 4 --threads 2
    """
    from zhengai_docs.web.server import ServerOptions, run, threads_per_process

    svc = ctx.services
    if not svc.library.repo.exists():
        click.echo("错误：内容仓库不存在，请先运行 zhengai-docs init（或 zhengai-docs init --demo）", err=True)
        sys.exit(1)
    svc.db.upgrade()
    processes = max(1, workers or int(svc.settings["WORKERS"]))
    options = ServerOptions(
        host=host or svc.settings["HOST"],
        port=port or int(svc.settings["PORT"]),
        workers=processes,
        threads=threads_per_process(processes, threads or int(svc.settings["THREADS"])),
    )
    click.echo(f"zhengai-docs 已启动：请在浏览器打开 http://{options.host}:{options.port}/")
    if check_credentials(svc.db, username="admin", password=DEMO_PASSWORD) is not None:
        click.echo(f"示例账号：admin / {DEMO_PASSWORD}（管理员）、zhiliang（质量办）、jiaowu（教务处编辑）、duzhe（读者），密码相同")
    else:
        click.echo("请用 init 时创建的管理员账号登录。")
    ctx.close()  # each worker builds its own app and connections
    instance = str(ctx.instance_path)

    def factory() -> Any:
        from zhengai_docs import create_app  # Flask is imported only by the command that serves pages

        return create_app(instance_path=instance)

    run(factory, options)


@cli.command("create-user")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.READER.value, show_default=True)
@click.option("--department", "departments", multiple=True, help="Department an editor works for (repeatable).")
@click.option("--name", "display_name", help="Display name, e.g. 教务处 王老师.")
@click.option("--email", help="E-mail address for reminders and notifications.")
@click.password_option(help="Password (prompted, hidden, when omitted).")
@pass_context
def create_user_command(
    ctx: _Context, username: str, role: str, departments: tuple[str, ...], display_name: str | None, email: str | None, password: str
) -> None:
    """Create an account.

    Examples:
      zhengai-docs create-user wang --role editor --department 教务处 --name "教务处 王老师"
      zhengai-docs create-user zhao --role quality
    """
    with _errors():
        create_user(
            ctx.services.db,
            username=username,
            password=password,
            role=Role(role),
            display_name=display_name,
            email=email,
            departments=departments,
        )
    click.echo(f"已创建用户 {username}（{Role(role).label}）")


@cli.command("import-catalogue")
@click.argument("table", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Show what would change without committing.")
@click.option("--author", default=SYSTEM_AUTHOR.name, show_default=True, help="Name recorded as the commit author.")
@pass_context
def import_catalogue(ctx: _Context, table: Path, dry_run: bool, author: str) -> None:
    """Merge a catalogue table (.tsv, .csv, .xlsx or a .docx table like 表 7) into the catalogue.

    Items are added or updated, never removed. Codes that do not belong to their row's item are
    reported with their row numbers and not imported.

    Examples:
      zhengai-docs import-catalogue 目录.docx --dry-run
      zhengai-docs import-catalogue catalogue.tsv
    """
    library = ctx.services.library
    with _errors():
        if dry_run:
            plan = library.plan_catalogue_import(table)
            result = None
        else:
            plan, result = library.import_catalogue(table, actor=Actor.system(name=author))  # the operator, on the server
    click.echo(f"表中共 {plan.item_count} 个条目；{len(plan.changes)} 项变更{'（试运行，未提交）' if dry_run else ''}")
    for change in plan.changes:
        click.echo(f"  {change.kind} {change.code} {change.detail}")
    if plan.problems:
        click.echo(f"发现 {len(plan.problems)} 个问题：")
        for problem in plan.problems:
            click.echo(f"  {problem}")
    if result is not None:
        click.echo(f"已提交 {result.commit[:12]}")
    elif not dry_run:
        click.echo("目录没有变化，未提交。")


@cli.command()
@click.option("--repair", is_flag=True, help="Also fix what needs no person: draft refs and rows that disagree, orphan draft refs.")
@click.option("--rebuild", "force", is_flag=True, help="Rebuild the cache even if it looks consistent (implies --repair).")
@pass_context
def doctor(ctx: _Context, repair: bool, force: bool) -> None:
    """Check everything that can drift from git, report each finding, and repair what needs no person.

    Every run checks the repository (git fsck), the SQL cache and the search index against the
    branch head and brings both up to it (they are projections of git: rebuilding them loses
    nothing), the draft refs against the draft rows, users' departments against the catalogue,
    and every file the product cannot use. --repair also reconciles drafts and refs (adopts saves
    a crash left unrecorded, moves orphan refs aside); what needs a person is listed as
    需人工处理. Exits 1 when a problem remains.

    Examples:
      zhengai-docs doctor
      zhengai-docs doctor --repair
      zhengai-docs doctor --rebuild
    """
    svc = ctx.services
    repo, db = svc.library.repo, svc.db
    repair = repair or force
    damaged = False
    with _errors():
        db.upgrade()
        try:
            repo.fsck()
            click.echo("git 仓库完整性检查：通过")
        except StorageError as exc:  # reported, and the checks below still run
            damaged = True
            click.echo(f"git 仓库完整性检查：未通过：{exc}")
        remote_left, reachable = doctor_remote(svc)  # CONTENT_REMOTE: fetched first, so the cache only moves forward
        diagnosis = _doctor_cache(svc, force=force) if reachable else Diagnosis(head=repo.head(), cached=cached_commit(db))
        index_left = _doctor_search_index(svc)
        drafts_left = _doctor_drafts(svc, repair=repair)
        people_left = _doctor_people(svc)
        if not damaged:
            repo.optimise()
    for problem in diagnosis.content_problems:
        click.echo(f"  内容：{problem}")
    if diagnosis.content_problems:
        click.echo(f"共 {len(diagnosis.content_problems)} 个文件或条目无法使用；其余内容照常工作。修正后提交即可恢复。")
    if damaged or remote_left or not diagnosis.cache_ok or diagnosis.content_problems or index_left or drafts_left or people_left:
        click.echo("检查完成：仍有问题需要处理（见上）")
        sys.exit(1)
    click.echo("检查完成：没有需要处理的问题")


def _doctor_cache(svc: Services, *, force: bool) -> Diagnosis:
    """The SQL cache against git: rebuilt when they differ (or when forced)."""
    repo, db = svc.library.repo, svc.db
    diagnosis = diagnose(db, repo)
    for problem in diagnosis.cache_problems:
        click.echo(f"  缓存：{problem}")
    if force or not diagnosis.cache_ok:
        with _progress("重建缓存") as progress:
            result = rebuild(db, repo, expected=cached_commit(db), progress=progress)
        click.echo(f"缓存已重建：{result.documents} 份文档，{result.revisions} 条修订记录")
        diagnosis = diagnose(db, repo)
    click.echo("缓存与仓库一致" if diagnosis.cache_ok else "缓存仍不一致：" + "；".join(diagnosis.cache_problems))
    return diagnosis


def _doctor_search_index(svc: Services) -> bool:
    """The search index against the head: caught up, or rebuilt beside the live one. True when a
    problem remains (e.g. its disk refuses writes: a person must act)."""

    library = svc.library
    drift = health.index_drift(library)
    if library.search is None:
        return False
    if drift is not None:
        click.echo(f"  搜索索引：{drift.problem}（{'可自动修复' if drift.repair else '需人工处理'}）")
        backend = library.search.backend
        if drift.repair == "catch-up":
            try:
                caught = sync_index(backend, library.repo, timeout=SAVE_WAIT, attachments=library.search.attachments)
                click.echo(f"搜索索引已追上仓库：更新 {caught.documents} 份文档")
            except IndexMissing:  # the recorded commit is gone (history rewritten and pruned)
                drift = health.IndexDrift(drift.problem, "rebuild")
        if drift.repair == "rebuild":
            with _progress("重建搜索索引") as progress:
                built = library.search.rebuild(progress=progress)
            click.echo(f"搜索索引已重建：{built.documents} 份文档")
        drift = health.index_drift(library)
    click.echo("搜索索引与仓库一致" if drift is None else f"搜索索引仍有问题：{drift.problem}（需人工处理）")
    return drift is not None


def _doctor_drafts(svc: Services, *, repair: bool) -> bool:
    """Draft rows against draft refs (workflow.reconcile_drafts). True when a finding remains."""

    findings = reconcile_drafts(
        repo=svc.library.repo, db=svc.db, repair=repair, one_open_per_document=bool(svc.settings["ONE_OPEN_REVISION"])
    )
    for finding in findings:
        click.echo(f"  {finding}")
    left = [f for f in findings if f.state in (FindingState.REPAIRABLE, FindingState.NEEDS_PERSON)]
    fixable = sum(1 for f in left if f.state is FindingState.REPAIRABLE)
    if not findings:
        click.echo("草稿与仓库中的草稿引用一致")
    elif fixable:
        click.echo(f"草稿：{fixable} 项可自动修复，请运行 zhengai-docs doctor --repair")
    return bool(left)


def _doctor_people(svc: Services) -> bool:
    """Users' departments against the catalogue's: only a person can say which is right."""
    problems = department_problems(svc.db)
    for problem in problems:
        click.echo(f"  用户：{problem}（需人工处理）")
    return bool(problems)


_TODAY = click.DateTime(formats=["%Y-%m-%d"])


def _today(value: Any) -> dt.date:
    return value.date() if value is not None else cycle_rules.today()


@cli.command()
@click.option("--today", type=_TODAY, help="Evaluate as of this date (YYYY-MM-DD) instead of today in Asia/Shanghai.")
@click.option("--dry-run", is_flag=True, help="List who would be reminded of what; send and record nothing.")
@pass_context
def remind(ctx: _Context, today: Any, dry_run: bool) -> None:
    """E-mail each department's editors their due-soon and overdue documents (for cron).

    Each document is reminded once per stage (due soon, overdue) and recipient; the SMTP_* and
    REMINDER_WEBHOOK_URL settings say where messages go. Exits 1 when a message could not be sent.

    Examples:
      zhengai-docs remind --dry-run
      zhengai-docs remind          # e.g. from cron: 0 8 * * 1
    """
    svc = ctx.services
    with _errors():
        svc.library.sync()
        outbox = Outbox(college=svc.settings["COLLEGE_NAME"], site_url=svc.settings["SITE_URL"])
        result = remind_editors(
            svc.db,
            policy=svc.policy,
            today=_today(today),
            smtp=SmtpSettings.from_settings(svc.settings),
            webhook_url=svc.settings["REMINDER_WEBHOOK_URL"],
            outbox=outbox,
            dry_run=dry_run,
        )
    echo_remind_report(result, dry_run=dry_run, kind="")


def echo_remind_report(result: RemindReport, *, dry_run: bool, kind: str) -> None:
    """What a `remind` run sent (or would send) and what failed; exit 1 on a failure. `kind`
    names the reminders ("指标" for indicators, "" for revision cycles)."""
    verb = "将发送" if dry_run else "已发送"
    for address, codes in result.mailed:
        click.echo(f"{verb}{kind}提醒邮件给 {address}：{'、'.join(codes)}")
    if result.webhook:
        click.echo(f"{verb} Webhook {kind}提醒：{'、'.join(result.webhook)}")
    if not result.mailed and not result.webhook:
        click.echo("没有需要发送的新提醒。")
    for username in result.no_address:
        click.echo(f"提示：部门编辑 {username} 没有登记邮箱，无法收到提醒", err=True)
    for failure in result.failures:
        click.echo(f"错误：{failure}", err=True)
    if result.failures:
        sys.exit(1)


@cli.command()
@click.option("--overdue", is_flag=True, help="Documents past their revision due date (exit 1 if any).")
@click.option("--coverage", is_flag=True, help="Diagnostic points without an in-force standard (exit 1 below --min-coverage).")
@click.option("--min-coverage", type=click.FloatRange(0, 1), help="Share of points that must be covered (default: AUDIT_MIN_COVERAGE).")
@click.option("--warnings", is_flag=True, help="质控指标 in 预警 in their due period (exit 1 if any).")
@click.option("--today", type=_TODAY, help="Evaluate as of this date (YYYY-MM-DD) instead of today in Asia/Shanghai.")
@pass_context
def audit(ctx: _Context, overdue: bool, coverage: bool, min_coverage: float | None, warnings: bool, today: Any) -> None:
    """Quality checks for the quality office and cron; exits 1 when a selected check finds a problem.

    With no check named, every check runs.

    Examples:
      zhengai-docs audit --overdue
      zhengai-docs audit --overdue --today 2027-03-01
      zhengai-docs audit --coverage --min-coverage 0.8
      zhengai-docs audit --warnings
    """
    svc = ctx.services
    checks = {"overdue": overdue, "coverage": coverage, "warnings": warnings}
    selected = [name for name, chosen in checks.items() if chosen] or list(checks)
    failed = False
    with _errors():
        svc.library.sync()
        if "overdue" in selected:
            failed |= _audit_overdue(svc, _today(today))
        if "coverage" in selected:
            threshold = float(svc.settings["AUDIT_MIN_COVERAGE"]) if min_coverage is None else min_coverage
            try:
                failed |= _audit_coverage(svc, _today(today), threshold)
            except ZhengaiError as exc:  # e.g. the active framework file is broken: the other checks stand
                click.echo(f"错误：诊断点覆盖无法检查：{exc}", err=True)
                failed = True
        if "warnings" in selected:
            from zhengai_docs.cli_indicators import audit_warnings

            failed |= audit_warnings(svc, _today(today))
    if failed:
        sys.exit(1)


def _audit_coverage(svc: Services, today: dt.date, threshold: float) -> bool:
    framework = svc.library.frameworks.get(svc.settings["ACTIVE_FRAMEWORK"]).framework
    result = coverage.coverage(framework, coverage.audit_snapshot(svc.db, svc.settings, today))
    click.echo(f"诊断点覆盖（{framework.name}）：{result.covered}/{len(result.points)}（{result.ratio:.0%}），要求不低于 {threshold:.0%}")
    for gap in result.gaps:
        click.echo(f"  {gap.point.id} {gap.point.name}：{gap.gap.label if gap.gap else ''}")
    return result.ratio < threshold


@cli.command("import-framework")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--id", "framework", help="Framework id for a table (e.g. hunan-2017); YAML files carry their own.")
@click.option("--name", help="Framework name for a table.")
@pass_context
def import_framework(ctx: _Context, source: Path, framework: str | None, name: str | None) -> None:
    """Add or update a diagnostic framework from YAML, CSV or XLSX (one commit)."""
    svc = ctx.services
    with _errors():
        parsed = framework_from_file(source, framework=framework or "", name=name or source.stem)  # sizes checked, rows streamed
        for warning in parsed.warnings():
            click.echo(f"注意：{warning}", err=True)
        result = svc.library.import_framework(parsed, actor=Actor.system(), message=f"导入诊断框架：{parsed.name}（{parsed.id}）")
    counts = parsed.counts
    state = "已导入" if result.changed else "内容没有变化"
    sizes = f"{counts['items']} 个诊断项目、{counts['elements']} 个诊断要素、{counts['points']} 个诊断点"
    click.echo(f"{state}：{parsed.name}（{parsed.id}），{sizes}")


def _audit_overdue(svc: Services, today: dt.date) -> bool:
    policy = svc.policy
    late = cycle_report.attention(cycle_report.document_cycles(svc.db, policy=policy, today=today), cycle_rules.State.OVERDUE)
    click.echo(f"修订周期（{today}）：{len(late)} 份文档已逾期")
    for cycle in late:
        click.echo(f"  {cycle.code} {cycle.title}（{'、'.join(cycle.departments)}）：{cycle.clock.summary}")
    return bool(late)


@cli.command()
@pass_context
def reindex(ctx: _Context) -> None:
    """Rebuild the full-text search index from the content repository.

    The new index is built beside the live one, which goes on answering searches and taking
    saves; it replaces the live one once it has caught up. Run it after editing the user
    dictionary (zhengai_docs/data/userdict.txt), after an upgrade, or when search says so.

    Examples:
      zhengai-docs reindex
      zhengai-docs --instance /srv/zhengai reindex
    """
    svc = ctx.services
    start = time.perf_counter()
    svc.db.upgrade()  # the index reads attachments' kept texts (a reindex may come first after an upgrade)
    with _errors(), _progress("重建搜索索引") as progress:
        index = _search_index(svc)
        result = index.rebuild(progress=progress)
    size = index.backend.state().size_bytes / 1e6
    commit = (result.new or "")[:12] or "（空仓库）"
    click.echo(f"搜索索引已重建：{result.documents} 份文档，对应提交 {commit}，用时 {time.perf_counter() - start:.1f} 秒，{size:.1f} MB")


def _search_index(svc: Services) -> SearchIndex:
    if svc.library.search is None:
        raise ZhengaiError("本实例未配置搜索索引")
    return svc.library.search


def _build_missing_index(svc: Services) -> None:
    """`init` builds the search index once; after that, saves and syncs keep it current."""
    index = _search_index(svc)
    if index.backend.state().exists:
        return
    with _errors(), _progress("建立搜索索引") as progress:
        result = index.rebuild(progress=progress)
    click.echo(f"已建立搜索索引：{result.documents} 份文档")


@cli.group()
def repository() -> None:
    """The content repository itself: what takes its space."""


@repository.command("largest")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000), help="How many files to list.")
@pass_context
def repository_largest(ctx: _Context, limit: int) -> None:
    """List the largest files anywhere in the content repository's history (all refs, drafts
    included), largest first, with their size on disk, and the repository's total size: what
    to look at when the repository grows (README, "Attachments and repository size").

    Examples:
      zhengai-docs repository largest
      zhengai-docs repository largest --limit 50
    """
    repo = ctx.services.library.repo
    with _errors():
        found = largest_objects(repo, limit=limit)
        total = repository_size(repo)
    click.echo(f"内容仓库占用磁盘 {size_label(total)}；最大的 {len(found)} 个文件（按原始大小，含历史版本和草稿）：")
    for item in found:
        click.echo(f"  {size_label(item.size):>9}  （磁盘上 {size_label(item.packed)}）  {item.sha[:12]}  {item.path}")


from zhengai_docs.cli_word import register as _register_word  # noqa: E402 - uses the group and helpers above

_register_word(cli)
from zhengai_docs.cli_backup import register as _register_backup  # noqa: E402 - backup and restore

_register_backup(cli)
from zhengai_docs.cli_staff import register as _register_staff  # noqa: E402 - import-staff

_register_staff(cli)
from zhengai_docs.cli_indicators import register as _register_indicators  # noqa: E402 - indicators import, remind

_register_indicators(cli)

from zhengai_docs.cli_remote import doctor_remote  # noqa: E402 - the central repository (CONTENT_REMOTE)
from zhengai_docs.cli_remote import register as _register_remote  # noqa: E402

_register_remote(cli)


def main() -> None:
    try:
        cli(prog_name="zhengai-docs")
    except ZhengaiError as exc:  # raised while building the services, before any command's own handler
        click.echo(f"错误：{exc}", err=True)
        sys.exit(1)
