"""E2E seed: users, and documents whose files (a page image, a PDF) go into MEDIA_ROOT."""

import base64
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from shape_b.core.models import Document
from shape_b.users.models import User

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
       b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
FILES = {"documents/cover.png": PNG, "documents/handbook.pdf": PDF}
USERS = ["e2e-admin", "e2e-member"]


class Command(BaseCommand):
    help = "Create the E2E users and documents (files under MEDIA_ROOT)."

    def handle(self, *args, **options) -> None:
        for username in USERS:
            user, created = User.objects.get_or_create(
                username=username, defaults={"email": f"{username}@example.com"})
            if created:
                user.set_password("e2e-password")
                user.save()
        root = Path(settings.MEDIA_ROOT)
        for name, content in FILES.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(content)
            Document.objects.get_or_create(title=Path(name).stem, defaults={"file": name})
        self.stdout.write(f"seed_e2e: {User.objects.count()} users, "
                          f"{Document.objects.count()} documents")
