"""Warm clones' names and bookkeeping (compose_gen.database), without a server: which names
are a worker's spare or set-aside databases, and what a changed template makes stale."""

from __future__ import annotations

import pytest

from compose_gen import database
from compose_gen.errors import ComposeGenError

TEMPLATE = database.template_name("test_e2e", "0123456789abcdef" * 4)
OTHER_TEMPLATE = database.template_name("test_e2e", "fedcba9876543210" * 4)


def test_a_spare_carries_its_templates_digest() -> None:
    assert TEMPLATE == "test_e2e_tpl_0123456789ab"
    assert database.template_digest(TEMPLATE) == "0123456789"
    assert database.spare_name("test_e2e_w0", TEMPLATE) == "test_e2e_w0_s0123456789"
    assert database.spare_name("test_e2e_w0", TEMPLATE) != database.spare_name(
        "test_e2e_w0", OTHER_TEMPLATE)


@pytest.mark.parametrize("name", ["test_e2e_w0", "test_e2e_tpl_", "x_tpl_XYZ", "db_build_ab"])
def test_only_template_names_give_a_digest(name: str) -> None:
    with pytest.raises(ValueError):
        database.template_digest(name)


def test_a_spare_name_over_postgres_limit_is_refused_with_a_hint() -> None:
    prefix = "p" * 46  # the longest prefix whose template name fits
    template = database.template_name(prefix, "ab" * 32)
    assert len(database.spare_name(f"{prefix}_w999", template)) == 63
    with pytest.raises(ComposeGenError) as caught:
        database.spare_name(f"{prefix}_w1000", template)
    assert "name_prefix" in (caught.value.hint or "")


def test_set_aside_names_are_the_workers_own_and_differ_each_time() -> None:
    names = {database.aside_name("test_e2e_w1") for _ in range(20)}
    assert len(names) == 20
    assert all(database.is_aside_of(n, "test_e2e_w1") for n in names)
    assert not any(database.is_aside_of(n, "test_e2e_w11") for n in names)
    assert not any(database.is_spare_of(n, "test_e2e_w1") for n in names)


def test_a_workers_leftovers_never_include_another_workers_or_the_live_databases() -> None:
    spare_w1 = database.spare_name("test_e2e_w1", TEMPLATE)
    old_spare_w1 = database.spare_name("test_e2e_w1", OTHER_TEMPLATE)
    aside_w1 = database.aside_name("test_e2e_w1")
    names = ["postgres", TEMPLATE, OTHER_TEMPLATE, "test_e2e_w1", "test_e2e_w11", "test_e2e_w2",
             spare_w1, old_spare_w1, aside_w1,
             database.spare_name("test_e2e_w11", OTHER_TEMPLATE),
             database.aside_name("test_e2e_w11"), database.spare_name("test_e2e_w2", TEMPLATE),
             "test_e2e_w1_s0123", "test_e2e_w1_sXYZXYZXYZX", "test_e2e_w1_o1234567"]

    assert sorted(database.leftovers(names, "test_e2e_w1", TEMPLATE)) == sorted(
        [old_spare_w1, aside_w1])
    # A task whose template went away (or discard_spares) drops every spare of the worker.
    assert sorted(database.leftovers(names, "test_e2e_w1", None)) == sorted(
        [spare_w1, old_spare_w1, aside_w1])


def test_the_lock_is_keyed_by_the_worker_database_alone() -> None:
    # The Playwright fixture sends the same SQL text: the lock works across both clients.
    assert database.LOCK_SQL.count("%s") == database.UNLOCK_SQL.count("%s") == 1
    assert "compose-gen:" in database.LOCK_SQL and "compose-gen:" in database.UNLOCK_SQL
