import pytest

pytestmark = pytest.mark.django_db


def test_password_is_hashed(django_user_model):
    user = django_user_model.objects.create_user("bob", password="secret")
    assert user.password != "secret"
    assert user.check_password("secret")


def test_superuser_flags(django_user_model):
    admin = django_user_model.objects.create_superuser("root", password="x")
    assert admin.is_staff and admin.is_superuser
