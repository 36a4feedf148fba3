"""The zhengai-docs command line, run through click's runner on real instance folders."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import OpenDatabase
from zhengai_docs.bootstrap import builtin_data
from zhengai_docs.cli import cli
from zhengai_docs.users import check_credentials
from zhengai_docs.web.server import ServerOptions


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_init_without_demo_creates_admin_with_generated_password(
    runner: CliRunner, blank_instance: Path, open_database: OpenDatabase
) -> None:
    result = runner.invoke(cli, ["--instance", str(blank_instance), "init"])
    assert result.exit_code == 0, result.output
    assert "内容仓库" in result.output and "新建" in result.output
    password = result.output.split("密码：")[1].split("（")[0].strip()
    db = open_database(blank_instance)
    assert check_credentials(db, username="admin", password=password) is not None
    again = runner.invoke(cli, ["--instance", str(blank_instance), "init"])
    assert again.exit_code == 0 and "已存在，沿用" in again.output and "已存在，未修改" in again.output


def test_init_demo_is_idempotent(runner: CliRunner, blank_instance: Path) -> None:
    first = runner.invoke(cli, ["--instance", str(blank_instance), "init", "--demo"])
    assert first.exit_code == 0, first.output
    assert "60 个目录条目" in first.output and "份文档" in first.output
    second = runner.invoke(cli, ["--instance", str(blank_instance), "init", "--demo"])
    assert second.exit_code == 0
    assert "已导入示例内容" not in second.output and "已创建示例账号" not in second.output


def test_create_user(runner: CliRunner, instance: Path) -> None:
    args = ["--instance", str(instance), "create-user", "wang", "--role", "editor", "--department", "教务处", "--password", "long-enough-1"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0 and "已创建用户 wang（部门编辑）" in result.output
    duplicate = runner.invoke(cli, args)
    assert duplicate.exit_code == 1 and "已存在" in duplicate.output
    no_department = runner.invoke(
        cli, ["--instance", str(instance), "create-user", "li", "--role", "editor", "--password", "long-enough-1"]
    )
    assert no_department.exit_code == 1 and "至少需要一个所属部门" in no_department.output
    short = runner.invoke(cli, ["--instance", str(instance), "create-user", "zhao", "--password", "short"])
    assert short.exit_code == 1 and "至少需要 8 个字符" in short.output


def test_import_catalogue_dry_run_then_real(runner: CliRunner, blank_instance: Path) -> None:
    assert runner.invoke(cli, ["--instance", str(blank_instance), "init", "--admin-password", "long-enough-1"]).exit_code == 0
    table = str(builtin_data("catalogue-baotou.tsv"))
    dry = runner.invoke(cli, ["--instance", str(blank_instance), "import-catalogue", table, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "表中共 60 个条目；60 项变更（试运行，未提交）" in dry.output
    assert "第 54 行：条目 E301 的流程代码 E302L 不属于该条目" in dry.output
    real = runner.invoke(cli, ["--instance", str(blank_instance), "import-catalogue", table])
    assert "已提交" in real.output
    again = runner.invoke(cli, ["--instance", str(blank_instance), "import-catalogue", table])
    assert "0 项变更" in again.output and "目录没有变化，未提交" in again.output


def test_doctor_on_a_healthy_instance(runner: CliRunner, instance: Path) -> None:
    result = runner.invoke(cli, ["--instance", str(instance), "doctor"])
    assert result.exit_code == 0, result.output
    assert "git 仓库完整性检查：通过" in result.output and "缓存与仓库一致" in result.output
    assert "缓存已重建" not in result.output
    forced = runner.invoke(cli, ["--instance", str(instance), "doctor", "--rebuild"])
    assert forced.exit_code == 0 and "缓存已重建" in forced.output


def test_serve_refuses_without_init(runner: CliRunner, blank_instance: Path) -> None:
    result = runner.invoke(cli, ["--instance", str(blank_instance), "serve"])
    assert result.exit_code == 1 and "zhengai-docs init" in result.output


@pytest.mark.parametrize(
    ("arguments", "environment", "expected"),
    [
        ([], {}, (1, 8)),  # one waitress process: threads are its only concurrency
        (["--workers", "4"], {}, (4, 2)),  # gunicorn: each worker's threads share one interpreter lock
        ([], {"ZHENGAI_WORKERS": "3"}, (3, 2)),
        (["--workers", "4", "--threads", "6"], {}, (4, 6)),
        (["--workers", "4"], {"ZHENGAI_THREADS": "3"}, (4, 3)),
        ([], {"ZHENGAI_THREADS": "16"}, (1, 16)),
    ],
)
def test_serve_gives_one_process_eight_threads_and_each_of_several_workers_two(
    runner: CliRunner,
    instance: Path,
    monkeypatch: pytest.MonkeyPatch,
    arguments: list[str],
    environment: dict[str, str],
    expected: tuple[int, int],
) -> None:
    served: list[ServerOptions] = []
    monkeypatch.setattr("zhengai_docs.web.server.run", lambda _factory, options: served.append(options))
    result = runner.invoke(cli, ["--instance", str(instance), "serve", *arguments], env=environment)
    assert result.exit_code == 0, result.output
    assert [(options.workers, options.threads) for options in served] == [expected]
