"""compose_gen/task.py: which task IDs are refused, how the others become names, and where
the ID comes from when --task-id is not given."""

from __future__ import annotations

import os
import re
import string
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from compose_gen.cli import main
from compose_gen.config import Config
from compose_gen.errors import InvalidTaskIdError, UsageError
from compose_gen.task import (
    MAX_TASK_ID_LENGTH,
    FoundTaskId,
    TaskIdSource,
    detect_task_id,
    discover_task_id,
    find_task_id,
    make_task,
    slugify,
    task_id_from_path,
    validate_task_id,
)

COMPOSE_PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*\Z")
SHELL_METACHARACTERS = ";&|$`<>(){}*?!'\"#~"

BAD_IDS = [
    ("", "empty"),
    ("a" * (MAX_TASK_ID_LENGTH + 1), "129-chars"),
    ("a/b", "slash"),
    ("/etc", "leading-slash"),
    ("a\\b", "backslash"),
    ("..", "dotdot"),
    ("a..b", "dotdot-inside"),
    (".hidden", "leading-dot"),
    ("-rf", "leading-dash"),
    ("a\x00b", "nul"),
    ("a\x1bb", "escape"),
    ("a\x7fb", "del"),
    ("abc\n", "trailing-newline"),
    ("a\rb", "carriage-return"),
    ("a b", "space"),
    ("a\tb", "tab"),
    ("a\u00a0b", "no-break-space"),
    ("a\u2028b", "line-separator"),
    ("tâche", "non-ascii"),
    *[(f"a{ch}b", f"meta-{ch}") for ch in SHELL_METACHARACTERS],
]


def files_under(path: Path) -> set[Path]:
    return {p.relative_to(path) for p in path.rglob("*")} if path.exists() else set()


# --- refusals ------------------------------------------------------------------------------

@pytest.mark.parametrize("task_id", [bad for bad, _ in BAD_IDS], ids=[i for _, i in BAD_IDS])
def test_bad_ids_are_refused(task_id: str) -> None:
    with pytest.raises(InvalidTaskIdError, match="task ID"):
        validate_task_id(task_id)


@pytest.mark.parametrize("task_id", [bad for bad, _ in BAD_IDS], ids=[i for _, i in BAD_IDS])
def test_bad_ids_exit_2_through_the_cli_with_one_line_and_nothing_written(
        task_id: str, minimal_project: Path, _isolated_state: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.chdir(minimal_project)
    before = files_under(minimal_project)

    code = main(["render", "--task-id", task_id, "--workers", "2"])

    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("compose-gen: error: ") and "task ID" in err
    assert "Traceback" not in err
    assert files_under(minimal_project) == before
    assert not (minimal_project / ".zenflow" / "tasks").exists() or not any(
        (minimal_project / ".zenflow" / "tasks").iterdir())
    assert not (_isolated_state / "leases.json").exists()


def test_a_bad_zenflow_task_id_from_the_environment_is_refused_too(
        minimal_project: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    monkeypatch.chdir(minimal_project)
    monkeypatch.setenv("ZENFLOW_TASK_ID", "x; rm -rf ~")

    assert main(["env"]) == 2
    assert "contains ';'" in capsys.readouterr().err


@settings(deadline=None)
@given(st.text(max_size=MAX_TASK_ID_LENGTH + 10))
def test_any_text_is_either_accepted_or_refused_with_invalid_task_id(task_id: str) -> None:
    try:
        validate_task_id(task_id)
    except InvalidTaskIdError as err:
        assert "\n" not in str(err)  # one line on stderr, whatever the ID holds
        return
    assert 0 < len(task_id) <= MAX_TASK_ID_LENGTH
    assert ".." not in task_id
    assert not set(task_id) & set(SHELL_METACHARACTERS + "/\\")
    assert task_id.isprintable() and task_id.isascii()
    assert not any(ch.isspace() for ch in task_id)


# --- names -------------------------------------------------------------------------------

ID_CHARS = string.ascii_letters + string.digits + "._-@+:" + "/ ;"
task_ids = st.text(alphabet=ID_CHARS, min_size=1, max_size=MAX_TASK_ID_LENGTH).filter(
    lambda text: _accepted(text))


def _accepted(task_id: str) -> bool:
    try:
        validate_task_id(task_id)
    except InvalidTaskIdError:
        return False
    return True


def config_for(tmp: Path, prefix: str = "zf") -> Config:
    return Config(project_dir=tmp, source=None, project_prefix=prefix)


@settings(deadline=None)
@given(task_ids, st.sampled_from(["zf", "ci", "0", "a_b-c", "x" * 20]))
def test_accepted_ids_give_a_valid_compose_project_name(task_id: str, prefix: str) -> None:
    task = make_task(task_id, config_for(Path("/project"), prefix))

    assert COMPOSE_PROJECT_NAME.match(task.project_name), task.project_name
    assert task.project_name == f"{prefix}-{task.slug}"
    assert len(task.slug) <= 40 + 1 + 8
    assert task.dir == Path("/project/.zenflow/tasks") / task_id
    assert task.label == {"dev.compose-gen.task": task_id}


@settings(deadline=None)
@given(task_ids, task_ids)
def test_distinct_ids_never_share_a_slug(first: str, second: str) -> None:
    assume(first != second)
    assert slugify(first) != slugify(second)


@pytest.mark.parametrize(("first", "second"), [
    ("Task-1", "task-1"),
    ("a.b", "a-b"),
    ("a_b", "a-b"),
    ("x" * 60 + "1", "x" * 60 + "2"),
    ("ci-suite-tests-parallele-zenflow-9947", "ci-suite-tests-parallele-zenflow-10947"),
], ids=["case", "dot-vs-dash", "underscore-vs-dash", "same-first-40", "prd-pair"])
def test_ids_that_normalise_alike_still_get_distinct_slugs(first: str, second: str) -> None:
    assert slugify(first) != slugify(second)


@settings(deadline=None)
@given(task_ids)
def test_the_slug_is_deterministic(task_id: str) -> None:
    assert slugify(task_id) == slugify(task_id)


def test_the_slug_does_not_depend_on_the_process() -> None:
    # A pinned value: sha256, not hash() (which changes with PYTHONHASHSEED between processes).
    assert slugify("ci-suite-tests-parallele-zenflow-9947") == \
        "ci-suite-tests-parallele-zenflow-9947-ee35dfca"
    # An ID without letters or digits still gets a usable slug: the hash alone.
    assert re.fullmatch(r"[0-9a-f]{8}", slugify("_"))
    assert slugify("_") != slugify("@")


# --- where the ID comes from --------------------------------------------------------------

def test_explicit_id_beats_the_environment_and_the_directory(tmp_path: Path) -> None:
    inside = tmp_path / ".zenflow" / "worktrees" / "from-dir" / "src"
    assert detect_task_id("explicit", cwd=inside,
                          environ={"ZENFLOW_TASK_ID": "from-env"}) == "explicit"


def test_the_environment_beats_the_directory(tmp_path: Path) -> None:
    inside = tmp_path / ".zenflow" / "worktrees" / "from-dir" / "src"
    assert detect_task_id(None, cwd=inside, environ={"ZENFLOW_TASK_ID": "from-env"}) == \
        "from-env"


def test_an_empty_environment_variable_falls_through_to_the_directory(tmp_path: Path) -> None:
    inside = tmp_path / ".zenflow" / "worktrees" / "from-dir" / "a" / "b"
    assert detect_task_id(None, cwd=inside, environ={"ZENFLOW_TASK_ID": ""}) == "from-dir"


def test_an_explicit_empty_id_is_not_replaced_by_a_default(tmp_path: Path) -> None:
    # `--task-id ""` is a mistake to report, not a request for $ZENFLOW_TASK_ID.
    assert detect_task_id("", cwd=tmp_path, environ={"ZENFLOW_TASK_ID": "from-env"}) == ""


@pytest.mark.parametrize(("relative", "expected"), [
    (".zenflow/worktrees/wt-1", "wt-1"),
    (".zenflow/worktrees/wt-1/deep/er", "wt-1"),
    (".zenflow/worktrees", None),
    (".zenflow/tasks/wt-1", None),
    ("worktrees/wt-1", None),
], ids=["root", "nested", "no-id", "tasks-dir", "no-zenflow"])
def test_the_id_of_a_worktree_directory(tmp_path: Path, relative: str,
                                        expected: str | None) -> None:
    assert task_id_from_path(tmp_path / relative) == expected


def test_no_id_anywhere_asks_for_task_id(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no task ID given") as info:
        detect_task_id(None, cwd=tmp_path, environ={})
    assert "--task-id" in str(info.value)


def test_discovery_says_where_the_id_came_from(tmp_path: Path) -> None:
    inside = tmp_path / ".zenflow" / "worktrees" / "from-dir" / "src"
    env = {"ZENFLOW_TASK_ID": "from-env"}
    assert discover_task_id("opt", cwd=inside, environ=env) == \
        FoundTaskId("opt", TaskIdSource.OPTION)
    assert discover_task_id(None, cwd=inside, environ=env) == \
        FoundTaskId("from-env", TaskIdSource.ENV)
    found = discover_task_id(None, cwd=inside, environ={})
    assert found == FoundTaskId("from-dir", TaskIdSource.WORKTREE)
    assert found.describe() == ".zenflow/worktrees/<id>/"
    assert FoundTaskId("x", TaskIdSource.OPTION).describe("--compose-gen-task") == \
        "--compose-gen-task"
    assert find_task_id(None, cwd=tmp_path, environ={"ZENFLOW_TASK_ID": ""}) is None


def test_discovery_validates_and_names_the_source(tmp_path: Path) -> None:
    with pytest.raises(InvalidTaskIdError, match=r"contains '\.\.'.*from \$ZENFLOW_TASK_ID"):
        find_task_id(None, cwd=tmp_path, environ={"ZENFLOW_TASK_ID": "a..b"})
    with pytest.raises(InvalidTaskIdError, match="task ID is empty.*from --task-id"):
        discover_task_id("", cwd=tmp_path, environ={})
    # validate=False hands the raw ID on (the plugin decides first whether it is its task).
    assert find_task_id(None, cwd=tmp_path, environ={"ZENFLOW_TASK_ID": "a..b"},
                        validate=False) == FoundTaskId("a..b", TaskIdSource.ENV)


def _detected_by_cli(capsys: pytest.CaptureFixture, *args: str) -> str:
    # `env` before `render` names the task it looked for: that is the detected ID.
    assert main(["env", *args]) == 2
    err = capsys.readouterr().err
    found = re.search(r"task '([^']*)' has no \.env\.task", err)
    assert found, err
    return found.group(1)


def test_the_cli_detects_in_the_documented_order(
        minimal_project: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    worktree = minimal_project / ".zenflow" / "worktrees" / "wt-9" / "src"
    worktree.mkdir(parents=True)
    monkeypatch.chdir(worktree)
    assert _detected_by_cli(capsys) == "wt-9"

    monkeypatch.setenv("ZENFLOW_TASK_ID", "from-env")
    assert _detected_by_cli(capsys) == "from-env"

    assert _detected_by_cli(capsys, "--task-id", "explicit") == "explicit"


def test_the_cli_without_any_id_exits_2_asking_for_task_id(
        minimal_project: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    monkeypatch.chdir(minimal_project)
    assert "ZENFLOW_TASK_ID" not in os.environ

    assert main(["render"]) == 2

    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "no task ID given" in err and "--task-id" in err
