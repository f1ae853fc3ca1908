from django.db import models


class Document(models.Model):
    """A file served from MEDIA_ROOT (page images, PDFs)."""

    title = models.CharField(max_length=200)
    file = models.FileField(upload_to="documents/")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.title


class TaskRun(models.Model):
    """One background job: which database, broker and worker ran it."""

    status = models.CharField(max_length=20, default="pending")
    database = models.CharField(max_length=100, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    broker = models.CharField(max_length=200, blank=True)
    result_file = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
