"""Zenflow wiring without Docker: settings.json merging, `zenflow init` and its stub (driven
against a fake compose-gen that records what it was asked), and `zenflow setup/teardown` with
the stack replaced (tests/integration/test_zenflow_hook.py runs them for real)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from compose_gen import zenflow
from compose_gen.cli import cli, main
from compose_gen.errors import UsageError

REPO = Path(__file__).resolve().parents[2]
HOOK = zenflow.SETUP_COMMAND


# --- merging settings.json -----------------------------------------------------------------

@pytest.mark.parametrize("current", [{}, {"setup_script": ""}, {"setup_script": "  "}],
                         ids=["absent", "empty", "blank"])
def test_a_missing_setup_script_becomes_the_hook(current: dict) -> None:
    merged, chained = zenflow.merge_settings(current)
    assert merged["setup_script"] == HOOK
    assert chained is None


def test_other_keys_are_kept_in_their_place() -> None:
    current = {"dev_server_script": "npm run dev", "copy_files": [".env"],
               "verification_script": "make test", "custom": {"x": 1}}
    merged, _ = zenflow.merge_settings(current)
    assert list(merged) == [*current, "setup_script"]
    assert {k: merged[k] for k in current} == current


def test_an_existing_setup_script_is_chained_after_the_hook() -> None:
    merged, chained = zenflow.merge_settings({"setup_script": "npm ci; make migrate || true"})
    assert chained == "npm ci; make migrate || true"
    assert merged["setup_script"] == f"{HOOK} && ( npm ci; make migrate || true )"


def test_merging_twice_changes_nothing() -> None:
    once, _ = zenflow.merge_settings({"setup_script": "npm ci"})
    twice, chained = zenflow.merge_settings(once)
    assert twice == once and chained is None


def test_a_setup_script_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(UsageError, match="'setup_script' must be a string"):
        zenflow.merge_settings({"setup_script": ["npm", "ci"]})


@pytest.mark.parametrize(("text", "message"), [
    ("{not json", "is not valid JSON"), ("[1, 2]", "must hold a JSON object")],
    ids=["broken", "array"])
def test_a_settings_file_compose_gen_cannot_read_is_left_alone(tmp_path: Path, text: str,
                                                               message: str) -> None:
    settings = tmp_path / ".zenflow" / "settings.json"
    settings.parent.mkdir()
    settings.write_text(text)
    with pytest.raises(UsageError, match=message):
        zenflow.init(tmp_path)
    assert settings.read_text() == text


# --- init ----------------------------------------------------------------------------------

def _git_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    return path


def _stub(repo: Path) -> Path:
    return repo / ".git" / "compose-gen" / "zenflow-hook"


def test_init_installs_the_stub_and_writes_settings(tmp_path: Path) -> None:
    repo = _git_repo(tmp_path / "repo")
    (repo / "sub").mkdir()
    result = zenflow.init(repo / "sub", python="/opt/py 3/bin/python")  # from anywhere inside
    assert result.repo_dir == repo.resolve()
    settings = json.loads((repo / ".zenflow" / "settings.json").read_text())
    assert settings == {"setup_script": HOOK}
    stub = _stub(repo)
    assert stub.read_text() == zenflow.stub_text("/opt/py 3/bin/python")
    assert "INSTALL_PYTHON='/opt/py 3/bin/python'" in stub.read_text()  # quoted for sh
    assert stub.stat().st_mode & stat.S_IXUSR
    assert not (repo / ".zenflow" / "hooks").exists()  # nothing in the work tree to commit
    assert len(result.changes) == 2


def test_init_is_idempotent(tmp_path: Path) -> None:
    repo = _git_repo(tmp_path / "repo")
    (repo / ".zenflow").mkdir()
    (repo / ".zenflow" / "settings.json").write_text(
        '{"copy_files": [".env.local"], "setup_script": "npm ci"}')
    first = zenflow.init(repo)
    text = (repo / ".zenflow" / "settings.json").read_text()
    second = zenflow.init(repo)
    assert first.chained == "npm ci"
    assert second.changes == () and second.chained is None
    assert (repo / ".zenflow" / "settings.json").read_text() == text
    assert json.loads(text)["copy_files"] == [".env.local"]


def test_init_never_overwrites_a_hook_that_is_not_compose_gens(tmp_path: Path) -> None:
    repo = _git_repo(tmp_path / "repo")
    hook = _stub(repo)
    hook.parent.mkdir(parents=True)
    hook.write_text("#!/bin/sh\necho mine\n")
    with pytest.raises(UsageError, match="is not compose-gen's hook"):
        zenflow.init(repo)
    assert hook.read_text() == "#!/bin/sh\necho mine\n"


def test_init_updates_an_older_copy_of_its_own_hook(tmp_path: Path) -> None:
    repo = _git_repo(tmp_path / "repo")
    zenflow.init(repo)
    hook = _stub(repo)
    hook.write_text(f"{zenflow.HOOK_MARKER}: bootstrap (an older version)\n")
    result = zenflow.init(repo)
    assert len(result.changes) == 1 and result.changes[0].startswith(f"updated {hook}")
    assert hook.read_text() == zenflow.stub_text()


def test_init_upgrades_an_install_of_the_shell_hooks(tmp_path: Path) -> None:
    repo = _git_repo(tmp_path / "repo")
    hooks = repo / ".zenflow" / "hooks"
    hooks.mkdir(parents=True)
    for name in zenflow.LEGACY_HOOKS:
        (hooks / name).write_text(f"#!/usr/bin/env bash\n{zenflow.HOOK_MARKER}: old\n")
    (hooks / "mine.sh").write_text("echo mine\n")
    (repo / ".zenflow" / "settings.json").write_text(json.dumps(
        {"setup_script": f"{zenflow.LEGACY_SETUP_COMMAND} && ( npm ci )"}))
    result = zenflow.init(repo)
    settings = json.loads((repo / ".zenflow" / "settings.json").read_text())
    assert settings == {"setup_script": f"{HOOK} && ( npm ci )"}  # the user's part kept
    assert result.chained is None
    assert sorted(p.name for p in hooks.iterdir()) == ["mine.sh"]  # only ours removed
    assert sum("commit the removal" in line for line in result.changes) == 2
    assert zenflow.init(repo).changes == ()


def test_init_outside_git_says_zenflow_needs_git(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not in a git repository"):
        zenflow.init(tmp_path)


def test_the_cli_says_when_it_chained_and_when_nothing_changed(tmp_path: Path) -> None:
    repo = _git_repo(tmp_path / "repo")
    (repo / ".zenflow").mkdir()
    (repo / ".zenflow" / "settings.json").write_text('{"setup_script": "make deps"}')
    runner = CliRunner()
    first = runner.invoke(cli, ["zenflow", "init", "--repo", str(repo)])
    assert first.exit_code == 0, first.output
    assert "your existing setup_script was kept" in first.output
    assert "(make deps)" in first.output
    second = runner.invoke(cli, ["zenflow", "init", "--repo", str(repo)])
    assert second.exit_code == 0
    assert second.output.startswith("Zenflow is already wired in")


# --- the setup_script and the stub, against a stub compose-gen -----------------------------

STUB = """#!/usr/bin/env bash
# records one line per call: the arguments, NUL-free, separated by |
printf '%s|' "$@" >> "$STUB_LOG"
echo >> "$STUB_LOG"
if [ -n "${STUB_FAIL_ON:-}" ] && [ "$2" = "$STUB_FAIL_ON" ]; then
  echo "compose-gen: error: $2 failed (exit ${STUB_FAIL_CODE:-1}): what to do next" >&2
  exit "${STUB_FAIL_CODE:-1}"
fi
echo "stub $1 $2 ok"
"""


@pytest.fixture
def stub(tmp_path: Path) -> dict[str, str]:
    path = tmp_path / "bin" / "compose-gen"
    path.parent.mkdir()
    path.write_text(STUB)
    path.chmod(0o755)
    log = tmp_path / "calls.log"
    env = {k: v for k, v in os.environ.items() if k not in ("ZENFLOW_TASK_ID", "COMPOSE_GEN_BIN")}
    return {**env, "STUB_LOG": str(log), "PATH": f"{path.parent}{os.pathsep}{env['PATH']}"}


def _calls(env: dict[str, str]) -> list[list[str]]:
    log = Path(env["STUB_LOG"])
    if not log.exists():
        return []
    return [line.rstrip("|").split("|") for line in log.read_text().splitlines()]


def _setup_script(cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """What Zenflow does in a new worktree: setup_script, as a shell command."""
    return subprocess.run(HOOK, shell=True, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60)


def test_setup_script_runs_the_installed_stub(tmp_path: Path, stub: dict) -> None:
    repo = _git_repo(tmp_path / "repo")
    zenflow.init(repo, python=str(tmp_path / "gone" / "python"))  # falls back to PATH
    result = _setup_script(repo, stub)
    assert result.returncode == 0, result.stderr
    assert _calls(stub) == [["zenflow", "setup"]]
    # $COMPOSE_GEN_BIN wins over the recorded Python and PATH.
    other = {**stub, "COMPOSE_GEN_BIN": str(tmp_path / "bin" / "compose-gen"),
             "STUB_FAIL_ON": "setup", "STUB_FAIL_CODE": "5"}
    failing = _setup_script(repo, other)
    assert failing.returncode == 5  # the step's exit code, through the stub's exec
    assert failing.stderr.splitlines() == [
        "compose-gen: error: setup failed (exit 5): what to do next"]


def test_setup_script_without_the_stub_uses_compose_gen_on_path(tmp_path: Path,
                                                                stub: dict) -> None:
    repo = _git_repo(tmp_path / "repo")  # a clone where `init` never ran
    result = _setup_script(repo, stub)
    assert result.returncode == 0, result.stderr
    assert _calls(stub) == [["zenflow", "setup"]]


def test_the_stub_without_compose_gen_says_so(tmp_path: Path) -> None:
    repo = _git_repo(tmp_path / "repo")
    zenflow.init(repo, python=str(tmp_path / "gone" / "python"))
    env = {k: v for k, v in os.environ.items() if k not in ("ZENFLOW_TASK_ID", "COMPOSE_GEN_BIN")}
    env["PATH"] = "/usr/bin:/bin"
    result = subprocess.run(["sh", str(_stub(repo)), "setup"], cwd=repo, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 127
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("compose-gen zenflow hook: compose-gen not found")


# --- `compose-gen zenflow setup/teardown`: the logic, with the stack replaced -------------

@pytest.fixture
def worktree(minimal_project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """examples/minimal as the worktree of task 'task-42' (no $ZENFLOW_TASK_ID)."""
    from compose_gen import stack
    from tests._support.compose_model import minimal_base

    monkeypatch.setattr(stack, "read_compose_config",
                        lambda spec, _interpolation: minimal_base(spec.project_dir))
    target = minimal_project.parent / ".zenflow" / "worktrees" / "task-42"
    target.parent.mkdir(parents=True)
    minimal_project.rename(target)
    for name in ("ZENFLOW_TASK_ID", "COMPOSE_GEN_SKIP_UP", "COMPOSE_GEN_UP_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(target)
    return target


def test_setup_takes_the_task_id_from_the_worktree_path_and_can_skip_up(
        worktree: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("COMPOSE_GEN_SKIP_UP", "1")
    assert main(["zenflow", "setup"]) == 0
    out, err = capsys.readouterr()
    assert "COMPOSE_GEN_SKIP_UP=1: rendered only" in out, err
    assert "task 'task-42' is ready" in out
    assert (worktree / ".zenflow" / "tasks" / "task-42" / ".env.task").is_file()


def test_setup_prefers_zenflow_task_id_and_runs_up(worktree: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture) -> None:
    from compose_gen import boot, lifecycle

    calls = []

    def fake_up(config, task, workers, *, timeout, progress):  # noqa: ANN001, ANN202
        calls.append((task.id, workers, timeout))
        return lifecycle.UpResult(rendered=lifecycle.render_task(config, task, workers),
                                  template=None, seeded=False, clone_seconds=())

    monkeypatch.setattr(boot, "up", fake_up)
    monkeypatch.setenv("ZENFLOW_TASK_ID", "from-env")
    monkeypatch.setenv("COMPOSE_GEN_UP_TIMEOUT", "42")
    assert main(["zenflow", "setup"]) == 0
    assert calls == [("from-env", 2, 42.0)]
    assert "task 'from-env' is up" in capsys.readouterr().out


@pytest.mark.parametrize(("error", "code"), [("timeout", 5), ("docker", 3)])
def test_setup_fails_with_one_line_and_the_steps_exit_code(
        worktree: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture,
        error: str, code: int) -> None:
    from compose_gen import boot
    from compose_gen.errors import DockerUnavailableError, WaitTimeoutError

    def failing_up(*_args, **_kwargs):  # noqa: ANN002, ANN003, ANN202
        if error == "timeout":
            raise WaitTimeoutError("the database did not become healthy in time")
        raise DockerUnavailableError("Docker is not running", hint="start it")

    monkeypatch.setattr(boot, "up", failing_up)
    assert main(["zenflow", "setup"]) == code
    _, err = capsys.readouterr()
    assert len(err.splitlines()) == 1
    assert err.startswith(f"compose-gen: error: up failed (exit {code}): ")


def test_setup_refuses_a_bad_id_from_the_path_before_writing_anything(
        worktree: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("ZENFLOW_TASK_ID", "$(touch pwned) x")
    assert main(["zenflow", "setup"]) == 2
    _, err = capsys.readouterr()
    assert len(err.splitlines()) == 1
    assert "from $ZENFLOW_TASK_ID" in err
    assert not (worktree / ".zenflow").exists() and not (worktree / "pwned").exists()


def test_setup_outside_a_worktree_without_an_id_fails_clearly(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.delenv("ZENFLOW_TASK_ID", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["zenflow", "setup"]) == 2
    _, err = capsys.readouterr()
    assert len(err.splitlines()) == 1
    assert "no task ID given" in err and ".zenflow/worktrees/<id>/" in err


def test_teardown_downs_the_worktrees_task(worktree: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture) -> None:
    from compose_gen import lifecycle
    from compose_gen.errors import DockerUnavailableError

    downed = []
    monkeypatch.setattr(lifecycle, "down", lambda config, task: downed.append(task.id))
    assert main(["zenflow", "teardown"]) == 0
    assert downed == ["task-42"]
    assert "task 'task-42' is down" in capsys.readouterr().out

    def failing(config, task):  # noqa: ANN001, ANN202
        raise DockerUnavailableError("Docker is not running")

    monkeypatch.setattr(lifecycle, "down", failing)
    assert main(["zenflow", "teardown"]) == 3
    assert capsys.readouterr().err.startswith("compose-gen: error: down failed (exit 3): ")
