from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "shape_b.orders"
    default_auto_field = "django.db.models.BigAutoField"
