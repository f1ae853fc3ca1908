from django.apps import AppConfig


class BeatConfig(AppConfig):
    name = "shape_b.beat"
    default_auto_field = "django.db.models.BigAutoField"
