from decimal import Decimal

import pytest
from django.db import IntegrityError

from shape_b.catalog.models import Category, Product
from shape_b.orders.models import Order, OrderLine

pytestmark = pytest.mark.django_db


@pytest.fixture
def product():
    return Product.objects.create(name="Book", category=Category.objects.create(name="Books"),
                                  price=Decimal("12.50"))


def test_order_with_lines(user, product):
    order = Order.objects.create(number="A-1", user=user)
    OrderLine.objects.create(order=order, product=product, quantity=2, unit_price=product.price)
    assert order.lines.count() == 1
    assert order.status == "new"
    assert order.currency == "EUR"


def test_quantity_must_be_positive(user, product):
    order = Order.objects.create(number="A-2", user=user)
    with pytest.raises(IntegrityError):
        OrderLine.objects.create(order=order, product=product, quantity=0)
