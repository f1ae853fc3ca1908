"""compose-gen's inputs and outputs in the shape the tests compare: Compose's normalised model
of examples/minimal, and the rendered override read back line by line."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any


def minimal_base(project_dir: Path) -> dict[str, Any]:
    """`docker compose config --format json` of examples/minimal (Compose 2.26.1)."""
    return {
        "networks": {"default": {"name": "minimal_default", "ipam": {}}},
        "services": {
            "backend": {
                "command": ["python", "-m", "http.server", "8000", "--directory", "/app/media"],
                "depends_on": {"db": {"condition": "service_healthy", "required": True}},
                "entrypoint": None,
                "environment": {"DATABASE_URL": "postgresql://app:app@db:5432/app",
                                "MEDIA_ROOT": "/app/media"},
                "image": "python:3.12-slim", "networks": {"default": None},
                "ports": [{"mode": "ingress", "target": 8000, "published": "8088",
                           "protocol": "tcp"}],
                "volumes": [
                    {"type": "volume", "source": "media", "target": "/app/media", "volume": {}},
                    {"type": "bind", "source": str(project_dir), "target": "/code",
                     "read_only": True, "bind": {"create_host_path": True}}],
            },
            "db": {
                "command": None, "entrypoint": None,
                "environment": {"POSTGRES_DB": "app", "POSTGRES_PASSWORD": "app",
                                "POSTGRES_USER": "app"},
                "healthcheck": {"test": ["CMD-SHELL", "pg_isready -U app -d app"],
                                "interval": "1s", "retries": 30},
                "image": "postgres:16-alpine", "networks": {"default": None},
                "ports": [{"mode": "ingress", "target": 5432, "published": "5435",
                           "protocol": "tcp"}],
            },
            "frontend": {
                "command": ["python", "-m", "http.server", "5173"],
                "depends_on": {"backend": {"condition": "service_started", "required": True}},
                "entrypoint": None, "image": "python:3.12-slim",
                "networks": {"default": None},
                "ports": [{"mode": "ingress", "target": 5173, "published": "5173",
                           "protocol": "tcp"}],
            },
            "redis": {
                "command": None, "entrypoint": None, "image": "redis:7-alpine",
                "networks": {"default": None},
                "ports": [{"mode": "ingress", "target": 6379, "published": "6385",
                           "protocol": "tcp"}],
            },
        },
        "volumes": {"media": {"name": "minimal_media"}},
    }


_KEY = r'(?:"(?:[^"\\]|\\.)*"|[A-Za-z_][A-Za-z0-9_.-]*)'
_YAML_LINE = re.compile(rf"^( *)({_KEY}):(?: (?:!override |!reset )?(.+))?$")


def yaml_lines(text: str) -> list[tuple[int, str, Any]]:
    """(indent, key, value) for every line; each value must be one JSON (= YAML flow) value.

    A value that escaped its quoting would leave a line that is not `key: <JSON>`.
    """
    parsed = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _YAML_LINE.match(line)
        assert match, f"not a `key: <json>` line: {line!r}"
        indent, key, value = match.groups()
        key = json.loads(key) if key.startswith('"') else key
        parsed.append((len(indent), key, None if value is None else json.loads(value)))
    return parsed


def tree(text: str) -> dict[str, Any]:
    """The override as nested dicts, from its `key: <JSON>` lines and their indentation."""
    root: dict[str, Any] = {}
    stack_: list[tuple[int, dict[str, Any]]] = [(-1, root)]
    for indent, key, value in yaml_lines(text):
        while stack_[-1][0] >= indent:
            stack_.pop()
        parent = stack_[-1][1]
        assert key not in parent, f"duplicate key {key!r}"
        if value is None:
            parent[key] = {}
            stack_.append((indent, parent[key]))
        else:
            parent[key] = value
    return root
