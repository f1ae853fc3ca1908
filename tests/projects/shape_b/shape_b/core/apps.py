from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "shape_b.core"
    default_auto_field = "django.db.models.BigAutoField"
