"""`zhengai-docs` commands for Word in and out (registered on the main group by `cli.py`)."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from zhengai_docs.attachments.body_pictures import picture_reader
from zhengai_docs.attachments.store import attachment_note_markdown, attachments_of
from zhengai_docs.bootstrap import SYSTEM_AUTHOR
from zhengai_docs.catalogue.codes import DocType, document_code, level1_code
from zhengai_docs.cli import _errors, _progress
from zhengai_docs.cycles.rules import SHANGHAI
from zhengai_docs.permissions import Actor
from zhengai_docs.publishing import flowchart_renderer, imports, selfdiag, word_template
from zhengai_docs.publishing import handbook as handbook_service
from zhengai_docs.render.docx_export import export_markdown
from zhengai_docs.render.docx_package import Limits
from zhengai_docs.render.flowcharts import FlowchartRenderer
from zhengai_docs.storage.files import document_files

if TYPE_CHECKING:
    from zhengai_docs.cli import _Context


def _limits(ctx: _Context) -> Limits:
    return Limits.from_settings(ctx.services.settings)


def _template(ctx: _Context) -> Path:
    return word_template(ctx.services.settings, ctx.services.instance_path)


def _flowcharts(ctx: _Context) -> FlowchartRenderer:
    return flowchart_renderer(ctx.services.settings, ctx.services.instance_path)


def _actor(author: str) -> Actor:
    """The operator runs commands on the server: the system acts, under the `--author` name."""
    return Actor.system(name=author)


@click.command("import-word")
@click.argument("code")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--message", "-m", help="修订说明 (default: 从 Word 导入：<file name>).")
@click.option("--author", default=SYSTEM_AUTHOR.name, show_default=True, help="Name recorded as the commit author.")
@click.option("--dry-run", is_flag=True, help="Show the Markdown difference without committing.")
@click.pass_obj
def import_word(ctx: _Context, code: str, file: Path, message: str | None, author: str, dry_run: bool) -> None:
    """Import one .docx (or .md) file as the next version of a document, or as a new draft.

    The front matter of an existing document is kept; only the body is replaced.

    Examples:
      zhengai-docs import-word A108Z "招生工作管理办法（2026修订）.docx" --dry-run
      zhengai-docs import-word A108Z 招生工作管理办法.docx -m "依据2026年院长办公会决定修订"
    """
    library = ctx.services.library
    limits = _limits(ctx)
    with _errors():
        data = imports.read_file(file, max_bytes=limits.max_bytes)  # size checked before reading
        library.sync()
        prepared = imports.prepare(library, document_code(code), data, filename=file.name, limits=limits)
        for warning in prepared.warnings:
            click.echo(f"注意：{warning}", err=True)
        added, removed = prepared.diff.stats
        click.echo(f"{code}：{'新建' if prepared.current is None else '更新'}，增加 {added} 字，删除 {removed} 字")
        if dry_run:
            click.echo(prepared.diff.to_text())
            click.echo("（试运行，未提交）")
            return
        result = imports.save(library, prepared, actor=_actor(author), message=message or f"从 Word 导入：{file.name}")
    click.echo(f"已提交 {result.commit[:12]}" if result.changed else "内容没有变化，未提交。")


@click.command("import-folder")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--apply", "apply_", is_flag=True, help="Commit after the report (without it: a dry run).")
@click.option("--author", default=SYSTEM_AUTHOR.name, show_default=True, help="Name recorded as the commit author.")
@click.pass_obj
def import_folder(ctx: _Context, folder: Path, apply_: bool, author: str) -> None:
    """Import every .docx and .md file of a folder, one commit per document.

    The code comes from the file name (`A108Z 招生工作管理办法.docx`), or else from the title
    (a code in it, or the title of an existing document). A report comes first; files whose
    code is missing, unknown or ambiguous are listed and left out, and so are symbolic links,
    pipes, devices and files with other hard links (never opened: nothing outside the folder
    is read). Exits 1 when any file was left out or failed.

    Examples:
      zhengai-docs import-folder ./制度定稿
      zhengai-docs import-folder ./制度定稿 --apply
    """
    library = ctx.services.library
    with _errors():
        library.sync()
        with _progress("读取文件") as progress:
            plan = imports.plan_folder(library, folder, limits=_limits(ctx), progress=progress)
    _report(plan)
    if apply_ and plan.by_status("new", "update"):
        with _errors(), _progress("提交") as progress:
            imports.apply_folder(library, plan, actor=_actor(author), progress=progress)
        saved, failed = plan.by_status("saved"), plan.by_status("failed")
        click.echo(f"已提交 {len(saved)} 份文档（每份一个提交）")
        for entry in failed:
            click.echo(f"  提交失败 {entry.path.name}：{entry.message}", err=True)
    elif not apply_:
        click.echo("（试运行，未提交；确认无误后加 --apply 提交）")
    if plan.by_status("problem", "failed"):
        sys.exit(1)


def _report(plan: imports.FolderPlan) -> None:
    counts = {label: sum(1 for e in plan.entries if e.label == label) for label in dict.fromkeys(e.label for e in plan.entries)}
    click.echo(f"{plan.folder}：{len(plan.entries)} 个文件（" + "，".join(f"{k} {v}" for k, v in counts.items()) + "）")
    for entry in plan.entries:
        if entry.status == "problem":
            continue
        code = str(entry.code) if entry.code else "—"
        detail = f"（{entry.message}）" if entry.message else ""
        click.echo(f"  {entry.label} {code} ← {entry.path.name}{detail}")
    problems = plan.by_status("problem")
    if problems:
        click.echo(f"以下 {len(problems)} 个文件未导入：")
        for entry in problems:
            click.echo(f"  {entry.path.name}：{entry.message}")


@click.command("export-word")
@click.argument("code")
@click.option("--rev", help="A commit from the document's history (default: the version in force).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Output file (default: <code>.docx).")
@click.pass_obj
def export_word(ctx: _Context, code: str, rev: str | None, output: Path | None) -> None:
    """Export a document, at any revision, to .docx styled by the Word template.

    Examples:
      zhengai-docs export-word A101Z
      zhengai-docs export-word A101Z --rev 9a35e041 -o A101Z-2019.docx
    """
    library = ctx.services.library
    with _errors():
        doc_code = document_code(code)
        loaded = library.load(doc_code, revision=rev)
        meta = loaded.document.meta
        commit = loaded.version.commit
        listed = attachments_of(document_files(library.repo, doc_code.path, commit))
        data = export_markdown(
            loaded.document.body + attachment_note_markdown(listed),  # ends with its 附件 list, as on the web
            template=_template(ctx),
            title=meta.title,
            subtitle=handbook_service.subtitle(meta),
            flowcharts=_flowcharts(ctx),
            read_image=picture_reader(library.repo, doc_code.path, revision=commit),
        )
    target = output or Path(f"{code}.docx")
    target.write_bytes(data)
    click.echo(f"已导出 {code}（版本 {loaded.version.commit[:12]}）到 {target}")


@click.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=Path("制度汇编.docx"), show_default=True)
@click.option("--level", help="Only this level-1 area, e.g. A.")
@click.option("--department", help="Only documents this department leads, e.g. 教务处.")
@click.option("--type", "doc_type", type=click.Choice([t.value for t in DocType]), help="Only 制度 (Z), 流程 (L) or 标准 (B).")
@click.pass_obj
def handbook(ctx: _Context, output: Path, level: str | None, department: str | None, doc_type: str | None) -> None:
    """Compile the documents in force into one .docx handbook (制度汇编) in catalogue order.

    A cover and a 目录 with codes and page numbers (unnumbered pages), then each document on a
    new page, flowcharts drawn as pictures.

    Examples:
      zhengai-docs handbook -o 制度汇编.docx
      zhengai-docs handbook --level A --type Z -o 办学活动制度汇编.docx
    """
    svc = ctx.services
    with _errors():
        if level is not None:
            level1_code(level)
        svc.library.sync()
        selection = handbook_service.HandbookFilter(level1=level, department=department, doc_type=DocType(doc_type) if doc_type else None)
        with _progress("汇编文档") as progress:
            data, count = handbook_service.compile_handbook(
                db=svc.db,
                repo=svc.library.repo,
                selection=selection,
                template=_template(ctx),
                college=svc.settings["COLLEGE_NAME"],
                today=dt.datetime.now(SHANGHAI).date(),
                flowcharts=_flowcharts(ctx),
                progress=progress,
            )
    output.write_bytes(data)
    click.echo(f"已汇编 {count} 份现行文档到 {output}")


@click.command("self-diagnosis-report")
@click.option("--year", type=int, help="Report year (default: this year).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Output file (default: 自我诊改报告-<year>.docx).")
@click.pass_obj
def self_diagnosis_report(ctx: _Context, year: int | None, output: Path | None) -> None:
    """Write the 自我诊改报告 (one table per element of the active framework) as .docx.

    Examples:
      zhengai-docs self-diagnosis-report --year 2026
    """
    svc = ctx.services
    year = year or dt.datetime.now(SHANGHAI).year
    with _errors():
        svc.library.sync()
        framework = svc.library.frameworks.get(svc.settings["ACTIVE_FRAMEWORK"]).framework
        college = svc.settings["COLLEGE_NAME"]
        data = selfdiag.report_docx(db=svc.db, framework=framework, year=year, template=_template(ctx), college=college)
    target = output or Path(f"自我诊改报告-{year}.docx")
    target.write_bytes(data)
    click.echo(f"已生成 {year} 年度自我诊改报告：{target}")


COMMANDS = (import_word, import_folder, export_word, handbook, self_diagnosis_report)


def register(group: click.Group) -> None:
    for command in COMMANDS:
        group.add_command(command)

