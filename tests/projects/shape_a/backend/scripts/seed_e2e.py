"""E2E seed: users, and documents whose files (a page image, a PDF) go into MEDIA_ROOT.

Run inside the backend container (the entrypoint has migrated the database):
    python scripts/seed_e2e.py
"""

from __future__ import annotations

import base64
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_postgres")

# A 1x1 PNG and a one-page PDF: real files of those types, tiny.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
PDF = b"""%PDF-1.4
1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj
2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj
3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >> endobj
trailer << /Root 1 0 R >>
%%EOF
"""

USERS = [("e2e-admin", True), ("e2e-teacher", False), ("e2e-student", False)]
FILES = {"documents/page-001.png": PNG, "documents/exam.pdf": PDF}


def seed() -> dict[str, int]:
    from core.models import Document
    from django.conf import settings
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    for username, staff in USERS:
        user, created = user_model.objects.get_or_create(
            username=username, defaults={"is_staff": staff, "is_superuser": staff})
        if created:
            user.set_password("e2e-password")
            user.save()
    root = Path(settings.MEDIA_ROOT)
    for name, content in FILES.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        Document.objects.get_or_create(
            title=Path(name).stem,
            defaults={"file": name, "kind": "pdf" if name.endswith(".pdf") else "image"})
    return {"users": user_model.objects.count(), "documents": Document.objects.count()}


if __name__ == "__main__":
    import django

    django.setup()
    print("seed_e2e:", seed())
