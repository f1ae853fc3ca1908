from pathlib import Path

from django.conf import settings


def test_media_root_is_a_per_test_tmpdir(tmp_path):
    assert Path(settings.MEDIA_ROOT).is_relative_to(tmp_path)


def test_project_media_root_is_a_project_folder():
    from config.settings import base

    assert base.MEDIA_ROOT.endswith("shape_b/media")
