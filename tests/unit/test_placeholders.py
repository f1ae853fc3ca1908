"""compose_gen/placeholders.py: `[workers.env]` templates rendered per worker."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compose_gen.placeholders import (
    PlaceholderError,
    check_template,
    known_names,
    render_value,
    service_key,
)

VALUES = {"index": "1", "worker": "w1", "base_url": "http://127.0.0.1:20031", "host": "127.0.0.1",
          "database": "test_e2e_w1", "database_url": "postgresql://u:p@db:5432/test_e2e_w1",
          "backend_port": "20031", "frontend_dev_port": "20032"}


@pytest.mark.parametrize(("template", "expected"), [
    ("redis://redis:6379/{index}", "redis://redis:6379/1"),
    ("{base_url}", "http://127.0.0.1:20031"),
    ("http://{host}:{frontend_dev_port},{base_url}", "http://127.0.0.1:20032,http://127.0.0.1:20031"),
    ("{{literal}} {worker}", "{literal} w1"),
    ("no placeholder", "no placeholder"),
], ids=["broker", "base-url", "two-ports", "braces", "plain"])
def test_placeholders_render_per_worker(template: str, expected: str) -> None:
    check_template(template, ["backend", "frontend-dev"])
    assert render_value(template, VALUES) == expected


@pytest.mark.parametrize(("template", "message"), [
    ("{nope}", r"unknown placeholder \{nope\}"),
    ("{index.__class__}", "not a plain placeholder"),
    ("{index[0]}", "not a plain placeholder"),
    ("{index!r}", "not a plain placeholder"),
    ("{index:>5}", "not a plain placeholder"),
    ("{", "write \\{\\{ and \\}\\} for braces"),
    ("}", "write \\{\\{ and \\}\\} for braces"),
    ("{celery_port}", r"unknown placeholder \{celery_port\}"),
], ids=["unknown", "attribute", "item", "conversion", "spec", "lone-open", "lone-close",
        "not-a-worker-service"])
def test_bad_templates_are_refused_naming_the_problem(template: str, message: str) -> None:
    with pytest.raises(PlaceholderError, match=message):
        check_template(template, ["backend"])


def test_every_worker_service_has_a_port_placeholder() -> None:
    assert "backend_port" in known_names(["backend"])
    assert service_key("frontend-dev.v2") == "frontend_dev_v2"


@given(st.text())
def test_a_value_is_substituted_as_it_is_never_re_interpreted(value: str) -> None:
    # What a placeholder carries is data: braces or format syntax in it stay literal.
    assert render_value("x{base_url}y", {**VALUES, "base_url": value}) == f"x{value}y"
