from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "shape_b.catalog"
    default_auto_field = "django.db.models.BigAutoField"
