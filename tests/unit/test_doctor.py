"""compose_gen/doctor.py: the subnet pool's headroom, with Docker's networks and the host's
routes replaced by fakes."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from compose_gen import stack
from compose_gen import subnets as subnets_module
from compose_gen.config import Config, NetworksConfig
from compose_gen.doctor import Finding, Level, _check_subnets
from compose_gen.errors import DockerUnavailableError
from compose_gen.stack import DockerNetwork


def config_with(tmp_path: Path, pool: str = "10.199.0.0/22", prefix: int = 24) -> Config:
    return Config(project_dir=tmp_path, source=None,
                  networks=NetworksConfig(pool=pool, prefix=prefix))


def fake_host(monkeypatch: pytest.MonkeyPatch, networks: list[DockerNetwork],
              routes: list[str] = ()) -> None:
    monkeypatch.setattr(stack, "list_networks", lambda: networks)
    monkeypatch.setattr(subnets_module, "host_routes", lambda: [
        subnets_module.Route("eth0", ipaddress.IPv4Network(r)) for r in routes])


def test_headroom_counts_free_subnets_and_dockers_networks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_host(monkeypatch, [DockerNetwork("bridge", "", ("172.17.0.0/16",)),
                            DockerNetwork("zf-a_default", "zf-a", ("10.199.1.0/24",)),
                            DockerNetwork("host", "", ())])

    [finding] = _check_subnets(config_with(tmp_path))

    assert finding == Finding(Level.OK, "subnet pool 10.199.0.0/22: 3 of 4 /24 subnets free "
                                        "(0 leased); Docker has 3 networks, 1 in the pool")
    assert f"{finding.level:<5}|" == "ok   |"


def test_a_pool_a_host_route_covers_is_an_error_naming_the_route(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_host(monkeypatch, [], routes=["10.0.0.0/8"])

    [finding] = _check_subnets(config_with(tmp_path))

    assert finding.level is Level.ERROR
    assert "0 of 4 /24 subnets free" in finding.text
    assert "host routes overlap it: 10.0.0.0/8" in finding.text
    assert "networks.pool" in finding.text


def test_a_nearly_full_pool_and_many_default_pool_networks_warn(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    others = [DockerNetwork(f"n{i}", f"p{i}", (f"172.18.{i}.0/24",)) for i in range(26)]
    # 15 of the pool's 16 /24s are taken by one foreign network spanning them.
    in_pool = DockerNetwork("big", "big", ("10.199.0.0/21", "10.199.8.0/22", "10.199.12.0/23",
                                           "10.199.14.0/24"))
    fake_host(monkeypatch, [*others, in_pool])

    findings = list(_check_subnets(config_with(tmp_path, pool="10.199.0.0/20")))

    assert [f.level for f in findings] == [Level.WARN, Level.WARN]
    assert "1 of 16 /24 subnets free" in findings[0].text
    assert "compose-gen gc" in findings[0].text
    assert "26 Docker networks take subnets from Docker's default address pools" \
        in findings[1].text


def test_without_docker_the_pool_is_not_judged(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def no_daemon() -> list[DockerNetwork]:
        raise DockerUnavailableError("Docker is not reachable")

    monkeypatch.setattr(stack, "list_networks", no_daemon)

    [finding] = _check_subnets(config_with(tmp_path))

    assert finding.level is Level.WARN and "cannot list Docker networks" in finding.text
