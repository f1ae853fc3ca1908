"""The base database's password and name in a service's environment, replaced by the task's.

Compose folds `env_file` into `environment`, so the environment of `docker compose config`
holds every value a service gets: the password variable itself, any *PASSWORD* variable equal
to the base password, a URL's `user:password@`; for a worker's copy also a *DB*/*DATABASE*
variable naming the base database (an entrypoint that builds its URL from POSTGRES_DB) and a
database URL's path. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote


@dataclass(frozen=True)
class Credentials:
    """The task's password, and what the base stack carried instead."""

    password_env: str  # the database service's password variable (POSTGRES_PASSWORD)
    password: str
    base_password: str | None
    base_database: str

    def rewritten(self, environment: Mapping[str, Any], database: str | None = None
                  ) -> dict[str, str]:
        """The entries of `environment` that carry the base's password (and, with `database`,
        the base database's name), rewritten for the task. Only changed entries are returned.
        """
        changed: dict[str, str] = {}
        for key, value in environment.items():
            if not isinstance(value, str):
                continue
            new = self._with_password(key, value)
            if database is not None:
                new = self._with_database(key, new, database)
            if new != value:
                changed[key] = new
        return changed

    def _with_database(self, key: str, value: str, database: str) -> str:
        upper = key.upper()
        if value == self.base_database and ("DB" in upper or "DATABASE" in upper):
            return database
        if "://" in value and "@" in value:
            head, sep, tail = value.rpartition("/")
            name, query_sep, query = tail.partition("?")
            if sep and name == self.base_database and "@" in head:
                return f"{head}/{database}{query_sep}{query}"
        return value

    def _with_password(self, key: str, value: str) -> str:
        old = self.base_password
        if key == self.password_env and value:
            return self.password
        if not old:
            return value
        if "PASSWORD" in key.upper() and value == old:
            return self.password
        for encoded in dict.fromkeys((old, quote(old, safe=""))):
            marker = f":{encoded}@"
            if "://" in value and marker in value:
                value = value.replace(marker, f":{quote(self.password, safe='')}@")
        return value
