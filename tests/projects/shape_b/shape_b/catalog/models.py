from django.db import models


class Category(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, blank=True, default="")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return str(self.name)


class Product(models.Model):
    name = models.CharField(max_length=200)
    category = models.ForeignKey("Category", on_delete=models.PROTECT, related_name="products")
    sku = models.CharField(max_length=64, blank=True, default="")
    price = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    active = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True, null=True)
    description = models.TextField(blank=True, default="", max_length=5000)
    supplier = models.ForeignKey("Supplier", null=True, blank=True, on_delete=models.SET_NULL)
    weight_grams = models.PositiveIntegerField(default=0)
    tags = models.ManyToManyField("Tag", blank=True, related_name="products")
    stock = models.IntegerField(default=0)
    barcode = models.CharField(max_length=20, blank=True, default="")
    warehouse = models.ForeignKey("Warehouse", null=True, blank=True, on_delete=models.SET_NULL)
    discontinued_at = models.DateTimeField(null=True, blank=True)
    image = models.FileField(upload_to="products/", blank=True, default="")
    public_id = models.UUIDField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["sku"], name="catalog_product_sku_idx")]

    def __str__(self) -> str:
        return str(self.name)


class Supplier(models.Model):
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True, default="")
    phone = models.CharField(max_length=30, blank=True, default="")
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return str(self.name)


class Tag(models.Model):
    label = models.CharField(max_length=50, unique=True)
    color = models.CharField(max_length=7, default="#888888")

    def __str__(self) -> str:
        return str(self.label)


class Warehouse(models.Model):
    code = models.CharField(max_length=10, unique=True)
    city = models.CharField(max_length=100, blank=True, default="")

    def __str__(self) -> str:
        return str(self.code)
