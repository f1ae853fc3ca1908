"""What the hooks and fixtures of one pytest process share, kept on `config.stash`."""

from __future__ import annotations

from typing import Any

import pytest

from compose_gen.pytest_plugin.discovery import ActiveTask
from compose_gen.pytest_plugin.workers import WorkerIdentity

TASK = pytest.StashKey[ActiveTask]()
IDENTITY = pytest.StashKey[WorkerIdentity]()
SAVED_ENV = pytest.StashKey[dict]()
MEDIA_GUARD = pytest.StashKey[Any]()
# Why the plugin stays out of this run, shown under -v.
INERT = pytest.StashKey[str]()
# (alias, template) of each pytest-django test database cloned from a template.
TEMPLATES = pytest.StashKey[list]()
