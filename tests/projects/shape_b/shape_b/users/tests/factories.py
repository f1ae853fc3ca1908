import itertools

from shape_b.users.models import User

_numbers = itertools.count(1)


def make_user(**fields) -> User:
    number = next(_numbers)
    fields.setdefault("username", f"user{number}")
    fields.setdefault("email", f"user{number}@example.com")
    fields.setdefault("name", f"User {number}")
    password = fields.pop("password", "password")
    return User.objects.create_user(password=password, **fields)
