"""compose-gen as users install it: a wheel built from this checkout, installed (not editable)
into a fresh virtualenv outside the repository, renders a task. The shipped templates are
package data read through importlib.resources, so this is the install that would miss them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from compose_gen.envfile import read_env_file
from tests._support.paths import EXAMPLES, REPO

TEMPLATES = {"docker-compose.zenflow.yml.j2", "env.task.j2", "workers.json.j2"}


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, timeout=600, **kwargs)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The venv's bin dir, with compose-gen installed from a freshly built wheel."""
    root = tmp_path_factory.mktemp("wheel")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
          "--disable-pip-version-check", "-w", str(root / "dist"), str(REPO)])
    (wheel,) = (root / "dist").glob("compose_gen-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {f"compose_gen/templates/{name}" for name in TEMPLATES} <= set(names)
    assert not any(name.startswith(("templates/", "compose_gen/zenflow_hooks/"))
                   for name in names)
    _run([sys.executable, "-m", "venv", str(root / "venv")])
    bin_dir = root / "venv" / "bin"
    _run([str(bin_dir / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
          str(wheel)])
    return bin_dir


def _env(tmp_path: Path, bin_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("ZENFLOW_TASK_ID", "PYTHONPATH", "COMPOSE_GEN_CONFIG", "VIRTUAL_ENV")}
    return {**env, "COMPOSE_GEN_STATE_DIR": str(tmp_path / "state"),
            "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"}


def test_the_installed_wheel_is_not_the_checkout(installed: Path, tmp_path: Path) -> None:
    where = _run([str(installed / "python"), "-c",
                  "import compose_gen; print(compose_gen.__file__)"],
                 cwd=tmp_path, env=_env(tmp_path, installed)).stdout.strip()
    assert Path(where).is_relative_to(installed.parent), where
    assert not Path(where).is_relative_to(REPO)


def test_a_wheel_install_renders_a_task_from_its_shipped_templates(installed: Path,
                                                                   tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(EXAMPLES / "minimal", project, ignore=shutil.ignore_patterns(".zenflow"))
    env = _env(tmp_path, installed)
    result = _run([str(installed / "compose-gen"), "render", "--task-id", "wheel-t",
                   "--workers", "2"], cwd=project, env=env)
    assert "rendered task 'wheel-t'" in result.stdout
    task_dir = project / ".zenflow" / "tasks" / "wheel-t"
    assert read_env_file(task_dir / ".env.task")["ZENFLOW_TASK_ID"] == "wheel-t"
    assert "wheel-t" in (task_dir / "docker-compose.zenflow.yml").read_text()
    assert (task_dir / "workers.json").is_file()
    _run([str(installed / "compose-gen"), "down", "--task-id", "wheel-t"], cwd=project, env=env)


def test_zenflow_init_from_a_wheel_records_that_python(installed: Path, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    env = _env(tmp_path, installed)
    _run(["git", "init", "-q", str(repo)], env=env)
    _run([str(installed / "compose-gen"), "zenflow", "init"], cwd=repo, env=env)
    stub = (repo / ".git" / "compose-gen" / "zenflow-hook").read_text()
    assert f"INSTALL_PYTHON={installed / 'python'}\n" in stub
