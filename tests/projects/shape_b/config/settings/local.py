from .base import *  # noqa: F403
from .base import (
    INSTALLED_APPS,  # noqa: F401
    env,
)

# GENERAL
# ------------------------------------------------------------------------------
DEBUG = True
SECRET_KEY = env(
    "DJANGO_SECRET_KEY",
    default="Vq2xJ8mLr4TnW7zPk3HcY6dBs9FgA5eNu1QwRtZyXoMiLpKjVb",
)
ALLOWED_HOSTS = ["localhost", "0.0.0.0", "127.0.0.1"]  # noqa: S104

# EMAIL
# ------------------------------------------------------------------------------
EMAIL_HOST = env("EMAIL_HOST", default="mailpit")
EMAIL_PORT = 1025

# Celery
# ------------------------------------------------------------------------------
CELERY_TASK_EAGER_PROPAGATES = True
