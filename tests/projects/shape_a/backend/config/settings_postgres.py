"""The containers' settings: PostgreSQL from DATABASE_URL."""

import os
from urllib.parse import unquote, urlsplit

from config.settings import *  # noqa: F403

_url = urlsplit(os.environ["DATABASE_URL"])
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": _url.path.lstrip("/"),
        "USER": unquote(_url.username or ""),
        "PASSWORD": unquote(_url.password or ""),
        "HOST": _url.hostname or "localhost",
        "PORT": _url.port or 5432,
    }
}
