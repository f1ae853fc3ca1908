from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "shape_b.users"
    default_auto_field = "django.db.models.BigAutoField"
