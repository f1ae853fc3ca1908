"""Rendering: a task's plan (planning.py) written as its three files, from Jinja templates.

- docker-compose.zenflow.yml: an override of the project's compose files (every published port
  moved into the task's block on 127.0.0.1, worker services copied per worker);
- .env.task (0600): the task's ports, URLs and database settings;
- workers.json: the per-worker facts for test fixtures.

Also what rendering must protect in the user's project: the tasks dir kept out of git and out
of every image built from a context that contains it.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from compose_gen import override as overrides
from compose_gen import paths
from compose_gen.config import Config
from compose_gen.errors import ConfigError, UsageError
from compose_gen.planning import RenderPlan
from compose_gen.task import TaskSpec

TEMPLATE_NAMES = ("docker-compose.zenflow.yml.j2", "env.task.j2", "workers.json.j2")

_escape = overrides._escape


def _yaml(value: Any) -> str:
    """A YAML flow value (JSON is YAML): quoting and escaping are JSON's, `$` is escaped."""
    return _json(_escape_deep(value))


# An escaped backslash (kept) or the \uD8xx\uDCxx pair JSON writes for a character past U+FFFF.
_SURROGATE_PAIR = re.compile(r"\\(?:(\\)|u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2}))")


def _json(value: Any, indent: int | None = None) -> str:
    """JSON that is also YAML: ASCII escapes, except characters past U+FFFF, written as they
    are, since YAML (Compose's go-yaml) refuses JSON's surrogate-pair escapes for them."""
    def unpair(match: re.Match[str]) -> str:
        if match.group(1):
            return match.group(0)
        high, low = int(match.group(2), 16), int(match.group(3), 16)
        return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))

    return _SURROGATE_PAIR.sub(unpair, json.dumps(value, ensure_ascii=True, indent=indent))


def _escape_deep(value: Any) -> Any:
    if isinstance(value, dict):
        return {_escape(k): _escape_deep(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_escape_deep(v) for v in value]
    return _escape(value)


# No quote, NUL or line break of any kind (`str.splitlines` also splits on \v, \f, \x1c-\x1e,
# \x85, \u2028, \u2029, and it is what reads .env.task back), and no trailing backslash:
# Compose's dotenv reader takes `\'` as an escaped quote ("unterminated quoted value").
_DOTENV_SAFE = re.compile(r"^[^'\0\n\r\v\f\x1c-\x1e\x85\u2028\u2029]*(?<!\\)\Z")


def _dotenv(value: Any) -> str:
    """A single-quoted dotenv value: literal for Compose's parser and for `sh`'s `.`."""
    text = str(value)
    if not _DOTENV_SAFE.match(text):
        raise UsageError(f"cannot write {text!r} to .env.task: quotes, line breaks and a "
                         "trailing backslash are not allowed in values")
    return f"'{text}'"


def _raw_json(value: Any, indent: int | None = None) -> str:
    return _json(value, indent)


def template_dirs(config: Config | None = None) -> list[Path]:
    """The project's own template dirs (`.compose-gen/templates/`), tried before the shipped."""
    if config is None:
        return []
    own = config.project_dir / ".compose-gen" / "templates"
    return [own] if own.is_dir() else []


def _shipped_template(name: str) -> str | None:
    """A template shipped in the package (compose_gen/templates/), read one way in every kind
    of install (wheel, editable, zip) through importlib.resources."""
    from importlib.resources import files

    resource = files("compose_gen") / "templates" / name
    return resource.read_text(encoding="utf-8") if resource.is_file() else None


def jinja_env(config: Config | None = None) -> Any:
    import jinja2

    loader = jinja2.ChoiceLoader([
        jinja2.FileSystemLoader([str(d) for d in template_dirs(config)]),
        jinja2.FunctionLoader(_shipped_template)])
    env = jinja2.Environment(
        loader=loader, undefined=jinja2.StrictUndefined, autoescape=False,
        keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(yaml=_yaml, dotenv=_dotenv, rawjson=_raw_json)
    return env


def render_files(config: Config, result: RenderPlan, compose_files: list[Path]) -> dict[str, str]:
    env = jinja_env(config)
    task = result.task
    context = {
        "task_id": task.id, "project_name": task.project_name,
        "compose_files": [str(p) for p in compose_files],
        "override": result.override, "env": result.env,
        "workers": [w.as_json() for w in result.workers],
    }
    return {
        paths.OVERRIDE_FILE: env.get_template(TEMPLATE_NAMES[0]).render(context),
        paths.ENV_FILE: env.get_template(TEMPLATE_NAMES[1]).render(context),
        paths.WORKERS_FILE: env.get_template(TEMPLATE_NAMES[2]).render(context),
    }


def write_files(task: TaskSpec, files: Mapping[str, str]) -> None:
    try:
        task.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        for name, text in files.items():
            paths.write_private(task.dir / name, text)
    except OSError as err:  # e.g. tasks_dir names a file, or a read-only checkout
        raise ConfigError(f"cannot write the files of task '{task.id}' into {task.dir}: "
                          f"{err.strerror or err}",
                          hint="check tasks_dir in the config and its permissions") from err


def exclude_from_git(config: Config) -> None:
    """Keep generated task files out of `git status` (they hold a password)."""
    try:
        top = subprocess.run(["git", "-C", str(config.project_dir), "rev-parse",
                              "--show-toplevel", "--git-path", "info/exclude"],
                             capture_output=True, text=True, check=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return
    lines = top.stdout.splitlines()
    if len(lines) < 2:
        return
    root = Path(lines[0])
    exclude = Path(lines[1])
    if not exclude.is_absolute():
        exclude = (config.project_dir / exclude).resolve()
    try:
        relative = config.tasks_path.relative_to(root.resolve())
    except ValueError:
        return
    pattern = f"/{relative.as_posix()}/"
    try:
        current = exclude.read_text(encoding="utf-8") if exclude.exists() else ""
    except OSError:
        return
    if pattern in current.splitlines():
        return
    exclude.parent.mkdir(parents=True, exist_ok=True)
    with exclude.open("a", encoding="utf-8") as fh:
        if current and not current.endswith("\n"):
            fh.write("\n")
        fh.write(f"# compose-gen's per-task files (ports, passwords)\n{pattern}\n")


DOCKERIGNORE_COMMENT = "# compose-gen: per-task files (ports, passwords) never go into an image"


def keep_out_of_build_contexts(config: Config, base: Mapping[str, Any], *,
                               dry_run: bool = False) -> list[str]:
    """Make every build context that contains the tasks dir ignore it (`COPY . /app` would
    bake every task's .env.task into the image, and each render would bust that layer).

    Appends one entry to the context's .dockerignore (or the Dockerfile's own
    `<Dockerfile>.dockerignore`, which Docker reads instead), keeping the user's lines; returns
    a note per file changed, for the command's output.
    """
    notes = []
    tasks = config.tasks_path
    for name, service in (base.get("services") or {}).items():
        build = service.get("build")
        if not isinstance(build, Mapping) or not build.get("context"):
            continue
        context = Path(str(build["context"]))
        if not (context == tasks or context in tasks.parents):
            continue
        dockerfile = context / str(build.get("dockerfile") or "Dockerfile")
        ignore = dockerfile.with_name(dockerfile.name + ".dockerignore")
        if not ignore.is_file():
            ignore = context / ".dockerignore"
        entry = tasks.relative_to(context).as_posix() if tasks != context else "*"
        try:
            current = ignore.read_text(encoding="utf-8") if ignore.is_file() else ""
        except OSError:
            continue
        lines = [line.strip().rstrip("/") for line in current.splitlines()]
        if entry in lines or f"/{entry}" in lines:
            continue
        note = f"added '{entry}' to {ignore} (service '{name}' builds from {context})"
        if dry_run:
            notes.append(note)
            continue
        try:
            with ignore.open("a", encoding="utf-8") as fh:
                if current and not current.endswith("\n"):
                    fh.write("\n")
                fh.write(f"{DOCKERIGNORE_COMMENT}\n{entry}\n")
        except OSError as err:
            raise ConfigError(f"cannot keep {entry} out of the build context of '{name}': "
                              f"{ignore}: {err.strerror}",
                              hint=f"add '{entry}' to {ignore} yourself") from err
        notes.append(note)
    return notes
