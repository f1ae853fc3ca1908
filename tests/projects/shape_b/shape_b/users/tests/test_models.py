from shape_b.users.models import User


def test_user_str(user: User):
    assert str(user) == user.username


def test_user_has_no_first_name(user: User):
    assert not hasattr(User, "first_name") or User.first_name is None
