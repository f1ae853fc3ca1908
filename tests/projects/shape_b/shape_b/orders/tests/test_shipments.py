import pytest

from shape_b.orders.models import Order, Shipment

pytestmark = pytest.mark.django_db


def test_shipment_belongs_to_order(user):
    order = Order.objects.create(number="S-1", user=user)
    Shipment.objects.create(order=order, tracking_number="TRK1")
    assert order.shipments.get().tracking_number == "TRK1"
