"""The README's configuration reference is a config compose-gen accepts: every key it shows
exists, with a value of the right type (docs that drift from the code fail here)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from compose_gen.config import parse_config

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_configuration_reference_parses(tmp_path: Path) -> None:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Configuration"):]
    block = re.search(r"```toml\n(.*?)```", section, re.S)
    assert block, "no ```toml block in the README's Configuration section"
    table = tomllib.loads(block.group(1))["tool"]["compose-gen"]
    config = parse_config(table, project_dir=tmp_path, source=tmp_path / "pyproject.toml")
    # The keys the real-project shapes need are documented (and so parsed above).
    assert config.workers.env["CELERY_BROKER_URL"] == "redis://redis:6379/{index}"
    assert config.workers.ready_path == "/"
    assert config.networks.prefix == 24
    commented = re.findall(r"^# (\w+) = ", block.group(1), re.M)
    commented += re.findall(r"^\s*# (\w+) = ", block.group(1), re.M)
    for key in ("project_directory", "user", "name", "http_service", "seed_sql", "path"):
        assert key in commented, f"{key} is not shown in the README's reference"
