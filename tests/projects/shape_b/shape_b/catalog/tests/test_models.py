from decimal import Decimal

import pytest
from django.db.models import ProtectedError

from shape_b.catalog.models import Category, Product, Tag

pytestmark = pytest.mark.django_db


def test_product_defaults():
    product = Product.objects.create(name="Pen", category=Category.objects.create(name="Office"))
    assert product.price == Decimal("0")
    assert product.active
    assert product.public_id is None


def test_category_cannot_be_deleted_with_products():
    category = Category.objects.create(name="Tools")
    Product.objects.create(name="Hammer", category=category)
    with pytest.raises(ProtectedError):
        category.delete()


def test_tags():
    product = Product.objects.create(name="Mug", category=Category.objects.create(name="Kitchen"))
    product.tags.add(Tag.objects.create(label="ceramic"))
    assert list(Tag.objects.get(label="ceramic").products.all()) == [product]
