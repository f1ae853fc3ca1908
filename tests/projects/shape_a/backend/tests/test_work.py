import json
from pathlib import Path

import pytest
from core import work
from core.models import TaskRun

pytestmark = pytest.mark.django_db


def test_record_run_writes_media_and_row(settings):
    run = TaskRun.objects.create()
    facts = work.record_run(run.pk)
    run.refresh_from_db()
    assert run.status == TaskRun.DONE
    written = json.loads((Path(settings.MEDIA_ROOT) / run.result_file).read_text())
    assert written == facts


@pytest.mark.unit
def test_media_files_of_missing_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "absent")
    assert work.media_files() == []
