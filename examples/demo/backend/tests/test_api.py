"""Integration-API: the JSON API against this worker's own database (`-n 4 -m api`).

Every assertion on counts and ids is exact. Each worker starts from a clone of the seeded
template (3 exams) and keeps a ledger of what it did, so a single row written by another worker
or another task into the same database makes a test fail instead of passing by luck.
Tests are grouped in classes so that `--dist loadscope` keeps a class on one worker.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.api

SEED_TITLES = ["Algebra I — midterm", "Organic Chemistry — final", "World History — quiz"]
SEED_EXAMS_COUNT = len(SEED_TITLES)


def _exams(client) -> list[dict]:
    response = client.get("/api/exams")
    assert response.status == 200
    return response.json()


class TestSeededDatabase:
    def test_the_worker_database_is_its_own(self, api, compose_gen_worker) -> None:
        client, ledger = api
        stats = client.get("/api/stats").json()
        assert stats["database"] == compose_gen_worker.database == ledger.database
        assert compose_gen_worker.worker_id in compose_gen_worker.database

    def test_the_seed_exams_are_there(self, api) -> None:
        client, _ = api
        titles = [exam["title"] for exam in _exams(client)]
        assert titles[:3] == SEED_TITLES

    def test_a_seed_exam_has_its_questions(self, api) -> None:
        client, _ = api
        exam = client.get("/api/exams/2").json()
        assert exam == {**exam, "id": 2, "title": SEED_TITLES[1], "questions": 3}

    def test_an_unknown_exam_is_404(self, api) -> None:
        client, _ = api
        assert client.get("/api/exams/999999").status == 404


class TestCreateExams:
    @pytest.mark.parametrize("count", [1, 2, 3, 5, 8])
    def test_inserts_show_up_with_exact_count_and_ids(self, api, count: int) -> None:
        client, ledger = api
        for n in range(count):
            title = f"Bulk {count} #{n}"
            response = client.post_json("/api/exams", {"title": title})
            assert response.status == 201, response.body
            assert response.json()["id"] == ledger.created(title)
            assert response.json()["questions"] == 0
        exams = _exams(client)
        assert len(exams) == ledger.exams
        assert [exam["title"] for exam in exams[SEED_EXAMS_COUNT:]] == ledger.titles

    def test_a_duplicate_title_is_409_and_inserts_nothing(self, api) -> None:
        client, ledger = api
        assert client.post_json("/api/exams", {"title": "Duplicate"}).status == 201
        ledger.created("Duplicate")
        assert client.post_json("/api/exams", {"title": "Duplicate"}).status == 409
        ledger.rejected_duplicate()
        assert len(_exams(client)) == ledger.exams

    @pytest.mark.parametrize("payload", [{}, {"title": ""}, {"title": "   "},
                                         {"title": "x" * 201}],
                             ids=["missing", "empty", "blank", "too-long"])
    def test_a_bad_title_is_400_and_inserts_nothing(self, api, payload: dict) -> None:
        client, ledger = api
        assert client.post_json("/api/exams", payload).status == 400
        assert len(_exams(client)) == ledger.exams

    def test_the_form_post_redirects_home(self, api) -> None:
        client, ledger = api
        response = client.request("POST", "/exams", body=b"title=From+the+form", headers={
            "Content-Type": "application/x-www-form-urlencoded"})
        assert response.status == 303
        assert "notice=" in response.headers["Location"]
        ledger.created("From the form")
        assert len(_exams(client)) == ledger.exams


class TestDeleteExams:
    def test_delete_removes_exactly_one_exam(self, api) -> None:
        client, ledger = api
        created = client.post_json("/api/exams", {"title": "To delete"}).json()
        assert created["id"] == ledger.created("To delete")
        assert client.delete(f"/api/exams/{created['id']}").status == 204
        ledger.exams -= 1
        ledger.deleted += 1
        ledger.titles.remove("To delete")
        assert len(_exams(client)) == ledger.exams
        assert client.get(f"/api/exams/{created['id']}").status == 404

    def test_deleting_twice_is_404(self, api) -> None:
        client, ledger = api
        created = client.post_json("/api/exams", {"title": "Delete twice"}).json()
        ledger.created("Delete twice")
        assert client.delete(f"/api/exams/{created['id']}").status == 204
        ledger.exams -= 1
        ledger.deleted += 1
        ledger.titles.remove("Delete twice")
        assert client.delete(f"/api/exams/{created['id']}").status == 404


class TestPages:
    def test_stats_count_exactly_this_workers_rows(self, api) -> None:
        client, ledger = api
        stats = client.get("/api/stats").json()
        assert stats["exams"] == ledger.exams
        assert stats["uploads"] == 0

    def test_the_index_page_lists_every_exam(self, api) -> None:
        client, ledger = api
        page = client.get("/").body.decode()
        assert page.count('data-testid="exam-item"') == ledger.exams
        assert f'<dd data-testid="stats-database">{ledger.database}</dd>' in page

    def test_healthz_names_the_worker_database(self, api) -> None:
        client, ledger = api
        assert client.get("/healthz").json() == {"status": "ok", "database": ledger.database}

