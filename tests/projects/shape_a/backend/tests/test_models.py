import pytest
from core.models import Document, TaskRun

pytestmark = pytest.mark.django_db


@pytest.mark.unit
def test_document_str():
    assert str(Document(title="exam")) == "exam"


def test_taskrun_defaults():
    run = TaskRun.objects.create()
    assert run.status == TaskRun.PENDING
    assert run.queue == "celery"
    assert run.finished is None


def test_documents_ordered_by_id():
    Document.objects.create(title="b", file="documents/b.pdf")
    Document.objects.create(title="a", file="documents/a.pdf")
    assert [d.title for d in Document.objects.all()] == ["b", "a"]
