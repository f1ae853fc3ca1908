from django.conf import settings
from django.db import models


class Order(models.Model):
    number = models.CharField(max_length=32, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="orders"
    )
    created = models.DateTimeField(auto_now_add=True)
    status = models.CharField(
        max_length=20,
        default="new",
        choices=[("new", "New"), ("paid", "Paid"), ("shipped", "Shipped")],
    )
    total = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    note = models.TextField(blank=True, default="")
    paid_at = models.DateTimeField(null=True, blank=True)
    shipping_address = models.ForeignKey(
        "Address", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    currency = models.CharField(max_length=3, default="EUR")
    billing_address = models.ForeignKey(
        "Address", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=20, default="web")

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["status"], name="orders_order_status_idx")]

    def __str__(self) -> str:
        return str(self.number)


class OrderLine(models.Model):
    order = models.ForeignKey("Order", on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT)
    quantity = models.PositiveIntegerField(default=1)
    unit_price = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    discount = models.DecimalField(max_digits=5, decimal_places=2, default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gte=1), name="orders_orderline_quantity_gte_1"
            )
        ]

    def __str__(self) -> str:
        return str(self.pk)


class Address(models.Model):
    street = models.CharField(max_length=200)
    city = models.CharField(max_length=100)
    zip_code = models.CharField(max_length=12, blank=True, default="")
    country = models.CharField(max_length=2, default="DE")

    def __str__(self) -> str:
        return str(self.street)


class Shipment(models.Model):
    order = models.ForeignKey("Order", on_delete=models.CASCADE, related_name="shipments")
    tracking_number = models.CharField(max_length=40, blank=True, default="")
    shipped_at = models.DateTimeField(null=True, blank=True)
    carrier = models.CharField(max_length=40, blank=True, default="")

    def __str__(self) -> str:
        return str(self.pk)


class Refund(models.Model):
    order = models.ForeignKey("Order", on_delete=models.CASCADE, related_name="refunds")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    reason = models.CharField(max_length=200, blank=True, default="")
    created = models.DateTimeField(auto_now_add=True, null=True)

    def __str__(self) -> str:
        return str(self.pk)
