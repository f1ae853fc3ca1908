from django.conf import settings

from shape_b.users.tests.factories import make_user


def test_test_settings_hash_fast(db):
    assert settings.PASSWORD_HASHERS == ["django.contrib.auth.hashers.MD5PasswordHasher"]
    assert make_user(password="s3cret").check_password("s3cret")
