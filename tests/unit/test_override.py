"""compose_gen/override.py through planning.plan: what the override does to a real-shaped stack.

The base is a shape-A-like stack in Compose's normalised form: a database publishing nothing,
Redis, a worker group (backend + celery + frontend proxying to http://backend:8000), a shared
beat that reads the database through an env_file-folded password, the project bind-mounted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from compose_gen import planning
from compose_gen.config import Config, DatabaseConfig, MediaConfig, PortsConfig, WorkersConfig
from compose_gen.errors import ConfigError
from compose_gen.override import MEDIA_SEED_VOLUME, subnets_needed
from compose_gen.ports import block_for_slot
from compose_gen.task import make_task

PROJECT = Path("/repo")
PASSWORD = "f" * 32
BASE_URL = "postgresql://user:pass@db:5432/name"


def shape_a_base() -> dict[str, Any]:
    app_mounts = [
        {"type": "bind", "source": str(PROJECT / "backend"), "target": "/app"},
        {"type": "volume", "source": "media_data", "target": "/app/media"},
    ]
    app_env = {"DATABASE_URL": BASE_URL, "CELERY_BROKER_URL": "redis://redis:6379/0"}
    return {
        "networks": {"default": {"name": "docker_default", "ipam": {}}},
        "services": {
            "db": {"image": "postgres:16-alpine", "networks": {"default": None},
                   "environment": {"POSTGRES_USER": "user", "POSTGRES_PASSWORD": "pass",
                                   "POSTGRES_DB": "name"},
                   "volumes": [{"type": "volume", "source": "pg", "target":
                                "/var/lib/postgresql/data"}]},
            "redis": {"image": "redis:7", "networks": {"default": None},
                      "ports": [{"target": 6379, "published": "6385", "protocol": "tcp"}]},
            "backend": {"build": {"context": str(PROJECT / "backend")},
                        "environment": dict(app_env), "networks": {"default": None},
                        "ports": [{"target": 8000, "published": "8088", "protocol": "tcp"}],
                        "depends_on": {"db": {"condition": "service_healthy"}},
                        "volumes": app_mounts},
            "celery": {"image": "docker-backend", "environment": dict(app_env),
                       "networks": {"default": None}, "volumes": app_mounts},
            "frontend": {"image": "docker-frontend", "networks": {"default": None},
                         "environment": {"API_TARGET": "http://backend:8000"},
                         "ports": [{"target": 5173, "published": "5173", "protocol": "tcp"}],
                         "depends_on": {"backend": {"condition": "service_started"}}},
            "beat": {"image": "docker-backend", "container_name": "beat",
                     "environment": {"POSTGRES_PASSWORD": "pass", "POSTGRES_USER": "user",
                                     "DATABASE_URL": BASE_URL, "OTHER": "pass"},
                     "networks": {"default": None},
                     "volumes": [{"type": "bind", "source": str(PROJECT), "target": "/code"}]},
        },
        "volumes": {"media_data": {"name": "docker_media_data"}, "pg": {}},
    }


def shape_a_config(**media: Any) -> Config:
    # Two published ports per worker: the default block of 20 holds 8 workers x 1.
    return Config(project_dir=PROJECT, source=PROJECT / "compose-gen.toml",
                  compose_files=("infra/docker/docker-compose.yml",),
                  ports=PortsConfig(block_size=30),
                  database=DatabaseConfig(seed_command=("python", "seed.py"),
                                          seed_service="backend"),
                  workers=WorkersConfig(services=("backend", "celery", "frontend"),
                                        env={"CELERY_BROKER_URL": "redis://redis:6379/{index}",
                                             "CSRF_TRUSTED_ORIGINS": "{base_url}",
                                             "PUBLIC": "http://{host}:{frontend_port}"}),
                  media=MediaConfig(**(media or {"volume": "media_data"})))


def plan(workers: int = 2, config: Config | None = None, subnets: tuple[str, ...] = ()
         ) -> planning.RenderPlan:
    config = config or shape_a_config()
    return planning.plan(config, make_task("shape-a", config), block_for_slot(3, config.ports),
                       shape_a_base(), workers, PASSWORD, subnets=subnets)


def copies(result: planning.RenderPlan) -> dict[str, dict[str, Any]]:
    return {c.name: dict(c.definition) for c in result.override.copies}


def entries(result: planning.RenderPlan) -> dict[str, Any]:
    return {s.name: s for s in result.override.services}


def test_user_database_and_password_come_from_the_database_service() -> None:
    result = plan()
    assert (result.database.user, result.database.name) == ("user", "name")
    assert result.env["DATABASE_URL"] == (
        f"postgresql://user:{PASSWORD}@127.0.0.1:{result.database.host_port}/name")


def test_a_database_that_publishes_nothing_still_gets_a_port_of_the_block() -> None:
    result = plan()
    db = next(p for p in result.shared_ports if p.service == "db")
    assert db.added and db.target == 5432 and db.host_port == result.block.start
    assert result.env["POSTGRES_PORT"] == str(result.block.start)
    assert entries(result)["db"].ports == (f"127.0.0.1:{result.block.start}:5432/tcp",)


def test_every_service_that_carried_the_base_password_gets_the_tasks() -> None:
    result = plan()
    beat = entries(result)["beat"]
    assert beat.environment == {"POSTGRES_PASSWORD": PASSWORD,
                                "DATABASE_URL": f"postgresql://user:{PASSWORD}@db:5432/name"}
    # OTHER equals the password but is no password variable: left alone.
    assert entries(result)["db"].environment == {"POSTGRES_PASSWORD": PASSWORD}
    for name, definition in copies(result).items():
        assert "pass@" not in str(definition.get("environment")), name


def test_only_the_database_service_gets_dockers_init_as_pid_1() -> None:
    services = entries(plan())
    assert services["db"].init
    assert [name for name, entry in services.items() if entry.init] == ["db"]
    assert all("init" not in definition for definition in copies(plan()).values())


def test_a_database_service_that_sets_init_itself_keeps_its_choice() -> None:
    base = shape_a_base()
    base["services"]["db"]["init"] = False
    config = shape_a_config()
    result = planning.plan(config, make_task("shape-a", config), block_for_slot(3, config.ports),
                           base, 2, PASSWORD)
    assert not entries(result)["db"].init


def test_a_worker_is_a_group_with_its_own_broker_urls_and_names() -> None:
    result = plan()
    group = copies(result)
    assert {"backend_w0", "celery_w0", "frontend_w0", "backend_w1", "celery_w1",
            "frontend_w1"} <= set(group)
    for i in (0, 1):
        env = group[f"celery_w{i}"]["environment"]
        assert env["CELERY_BROKER_URL"] == f"redis://redis:6379/{i}"
        assert env["DATABASE_URL"] == f"postgresql://user:{PASSWORD}@db:5432/test_e2e_w{i}"
        base_url = result.workers[i].base_url
        assert group[f"backend_w{i}"]["environment"]["CSRF_TRUSTED_ORIGINS"] == base_url
        frontend_port = result.env[f"FRONTEND_PORT_W{i}"]
        assert group[f"backend_w{i}"]["environment"]["PUBLIC"] == (
            f"http://127.0.0.1:{frontend_port}")
        assert group[f"frontend_w{i}"]["depends_on"] == {
            f"backend_w{i}": {"condition": "service_started"}}


def test_base_names_resolve_to_the_workers_own_copies_on_its_network() -> None:
    result = plan(workers=3)
    group = copies(result)
    assert group["backend_w0"]["networks"] == {"default": {"aliases": ["backend"]}}
    for i in (1, 2):
        for name in ("backend", "celery", "frontend"):
            assert group[f"{name}_w{i}"]["networks"] == {f"default_w{i}": {"aliases": [name]}}
    # Shared services join every worker network (connected by `up`, not in the override, so
    # that a new worker count never recreates them), so every worker reaches db and redis.
    for shared in ("db", "redis", "beat"):
        assert entries(result)[shared].joins == ("default_w1", "default_w2")
    assert {"default", "default_w1", "default_w2"} <= set(result.override.networks)


def test_networks_take_the_leased_subnets_in_order() -> None:
    base = shape_a_base()
    needed = subnets_needed(base, ("backend", "celery", "frontend"), 3)
    assert needed == 3
    subnets = ("10.201.0.0/24", "10.201.1.0/24", "10.201.2.0/24")
    result = plan(workers=3, subnets=subnets)
    got = [spec["ipam"]["config"][0]["subnet"] for spec in result.override.networks.values()]
    assert sorted(got) == list(subnets)


def test_each_worker_gets_its_media_volume_and_the_seed_its_own() -> None:
    result = plan()
    group = copies(result)
    for i in (0, 1):
        for name in ("backend", "celery"):
            sources = [m["source"] for m in group[f"{name}_w{i}"]["volumes"]
                       if m.get("type") == "volume"]
            assert sources == [f"media_data_w{i}"]
    seed = group["backend_seed"]
    assert [m["source"] for m in seed["volumes"] if m["type"] == "volume"] == [MEDIA_SEED_VOLUME]
    assert seed["profiles"] == ["compose-gen-disabled"]
    assert result.seed_copy == "backend_seed"
    assert "backend_seed" not in result.start_services


def test_media_in_a_bind_mounted_folder_gets_a_volume_per_worker_at_its_path() -> None:
    result = plan(config=shape_a_config(path="/app/media"))
    group = copies(result)
    for i in (0, 1):
        mounts = group[f"backend_w{i}"]["volumes"]
        assert {"type": "volume", "source": f"media_w{i}", "target": "/app/media"} in mounts
        assert sum(m["target"] == "/app/media" for m in mounts) == 1


def test_the_tasks_dir_is_hidden_from_every_bind_mount_of_the_project() -> None:
    result = plan()
    beat = entries(result)["beat"]
    assert beat.tmpfs == ("/code/.zenflow/tasks:size=1m,mode=0700",)
    # backend mounts /repo/backend, which does not contain the tasks dir: nothing to hide.
    assert "tmpfs" not in copies(result)["backend_w0"]


def test_an_unknown_placeholder_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    from compose_gen.config import parse_config

    with pytest.raises(ConfigError, match=r"'workers\.env\.X': unknown placeholder \{nope\}"):
        parse_config({"workers": {"services": ["backend"], "env": {"X": "{nope}"}}},
                     project_dir=tmp_path, source=tmp_path / "compose-gen.toml")
