"""`compose_gen.proof.junit`: pytest node ids found again from JUnit names (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from compose_gen.proof.junit import pytest_node_id


@pytest.mark.parametrize(
    ("classname", "name", "file", "expected"),
    [
        ("tests.test_x.TestY", "test_z[a.b]", None, "tests/test_x.py::TestY::test_z[a.b]"),
        ("tests.test_x", "test_z", None, "tests/test_x.py::test_z"),
        ("tests.test_x.TestY.TestNested", "test_z", None,
         "tests/test_x.py::TestY::TestNested::test_z"),
        ("tests.test_x.TestY", "test_z", "tests/test_x.py", "tests/test_x.py::TestY::test_z"),
        ("", "tests.test_broken", None, "tests/test_broken.py"),
    ],
    ids=["class-and-param", "function", "nested-class", "xunit1-file", "collection-error"],
)
def test_pytest_node_id_from_junit_names(classname: str, name: str, file: str | None,
                                         expected: str) -> None:
    assert pytest_node_id(classname, name, file=file)[0] == expected


def test_pytest_node_id_prefers_a_module_that_exists(tmp_path: Path) -> None:
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "Test_Upper.py").write_text("")
    node_id, suite = pytest_node_id("checks.Test_Upper", "test_a", root_dir=tmp_path)
    assert (node_id, suite) == ("checks/Test_Upper.py::test_a", "checks/Test_Upper.py")
