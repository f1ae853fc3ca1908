import pytest

from shape_b.catalog.models import Category

pytestmark = pytest.mark.django_db


def test_category_children():
    root = Category.objects.create(name="Root")
    Category.objects.create(name="Leaf", parent=root)
    assert [c.name for c in root.children.all()] == ["Leaf"]
