from django.core import mail


def test_mail_goes_to_the_outbox():
    mail.send_mail("hello", "body", None, ["someone@example.com"])
    assert [m.subject for m in mail.outbox] == ["hello"]
