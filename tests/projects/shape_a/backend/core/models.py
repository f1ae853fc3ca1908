from django.db import models


class Document(models.Model):
    """A file the app serves from MEDIA_ROOT (page images, PDFs)."""

    title = models.CharField(max_length=200)
    file = models.FileField(upload_to="documents/")
    pages = models.PositiveIntegerField(default=1)
    kind = models.CharField(
        max_length=10, default="pdf", choices=[("pdf", "PDF"), ("image", "Image")])
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.title


class TaskRun(models.Model):
    """One background job: which database, broker and worker ran it."""

    PENDING = "pending"
    DONE = "done"

    status = models.CharField(max_length=20, default=PENDING)
    requested_by = models.CharField(max_length=100, blank=True)
    queue = models.CharField(max_length=50, default="celery")
    database = models.CharField(max_length=100, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    broker = models.CharField(max_length=200, blank=True)
    result_file = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
