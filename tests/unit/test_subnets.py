"""compose_gen/subnets.py: the per-task subnet allocator, host routes, and the pool settings."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compose_gen.config import NetworksConfig, parse_config
from compose_gen.errors import ConfigError
from compose_gen.subnets import (
    Route,
    allocate,
    blocking_routes,
    free_count,
    host_routes,
    probe_order,
    subnet_at,
)

POOL = "10.199.0.0/16"
net = ipaddress.IPv4Network


def test_the_default_pool_avoids_dockers_default_address_pools() -> None:
    pool = net(NetworksConfig().pool)
    docker_defaults = [net(f"172.{n}.0.0/16") for n in range(17, 32)] + [net("192.168.0.0/16")]
    assert pool.is_private
    assert not any(pool.overlaps(d) for d in docker_defaults)
    assert 2 ** (NetworksConfig().prefix - pool.prefixlen) >= 3 * 40  # 40 tasks x 3 networks


def test_subnets_are_the_pool_cut_in_order() -> None:
    pool = net(POOL)
    assert str(subnet_at(pool, 24, 0)) == "10.199.0.0/24"
    assert str(subnet_at(pool, 24, 255)) == "10.199.255.0/24"
    assert str(subnet_at(pool, 26, 5)) == "10.199.1.64/26"
    order = list(probe_order("t", pool, 24))
    assert len(set(order)) == 256 and all(s.subnet_of(pool) for s in order)


def test_the_preferred_subnets_are_pinned() -> None:
    # sha256-based like port slots: the same in every process and on every machine.
    assert allocate("task-a", POOL, 24, 2) == allocate("task-a", POOL, 24, 2)
    first = allocate("task-a", POOL, 24, 1)
    assert first is not None
    assert allocate("task-a", POOL, 24, 3)[:1] == first


def test_probing_skips_leased_and_blocked_subnets() -> None:
    preferred = list(probe_order("t", net(POOL), 24))
    taken = [str(preferred[0])]
    blocked = [net(str(preferred[1].network_address) + "/28")]  # a route inside subnet 2

    found = allocate("t", POOL, 24, 1, taken=taken, blocked=blocked)

    assert found == (str(preferred[2]),)


def test_a_route_over_the_whole_pool_leaves_no_subnet() -> None:
    assert allocate("t", POOL, 24, 1, blocked=[net("10.0.0.0/8")]) is None
    assert free_count(POOL, 24, [], [net("10.0.0.0/8")]) == (0, 256)


def test_a_larger_count_keeps_the_existing_subnets_and_a_smaller_one_a_prefix() -> None:
    two = allocate("t", POOL, 24, 2)
    assert two is not None
    four = allocate("t", POOL, 24, 4, keep=two)
    assert four is not None and four[:2] == two and len(set(four)) == 4
    assert allocate("t", POOL, 24, 1, keep=four) == four[:1]
    assert allocate("t", POOL, 24, 0, keep=four) == ()


def test_a_kept_subnet_that_now_collides_is_replaced_in_place() -> None:
    three = allocate("t", POOL, 24, 3)
    assert three is not None
    again = allocate("t", POOL, 24, 3, keep=three, blocked=[net(three[1])])
    assert again is not None
    assert again[0] == three[0] and again[2] == three[2] and again[1] != three[1]
    assert not net(again[1]).overlaps(net(three[1]))


@pytest.mark.parametrize("keep", [("10.200.0.0/24",), ("10.199.0.0/25",), ("garbage",)],
                         ids=["outside-the-pool", "other-prefix", "unparsable"])
def test_a_kept_subnet_that_no_longer_fits_the_config_is_replaced(keep: tuple[str]) -> None:
    found = allocate("t", POOL, 24, 1, keep=keep)
    assert found is not None and found != keep
    assert net(found[0]).subnet_of(net(POOL)) and net(found[0]).prefixlen == 24


_subnet_texts = st.builds(lambda i: str(subnet_at(net("10.199.0.0/20"), 24, i)),
                          st.integers(min_value=0, max_value=15))
_routes = st.builds(lambda a, b, p: net(f"10.199.{a}.{b & 0xF0}/{p}", strict=False),
                    st.integers(0, 15), st.integers(0, 255), st.integers(20, 30))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=20), unique=True, min_size=1, max_size=12),
       st.integers(min_value=1, max_value=4),
       st.lists(_routes, max_size=4))
def test_tasks_allocated_in_turn_get_disjoint_stable_subnets_inside_the_pool(
        task_ids: list[str], count: int, blocked: list[ipaddress.IPv4Network]) -> None:
    pool = "10.199.0.0/20"  # 16 /24s: small enough that the pool often runs out
    leased: dict[str, tuple[str, ...]] = {}
    for task_id in task_ids:
        taken = [s for other in leased.values() for s in other]
        found = allocate(task_id, pool, 24, count, taken=taken, blocked=blocked)
        free, total = free_count(pool, 24, taken, blocked)
        assert total == 16
        if found is None:
            assert free < count
            continue
        assert free >= count
        nets = [net(s) for s in found]
        assert len(nets) == count
        assert all(n.subnet_of(net(pool)) and n.prefixlen == 24 for n in nets)
        assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1:])
        assert not any(n.overlaps(net(t)) for n in nets for t in taken)
        assert not any(n.overlaps(b) for n in nets for b in blocked)
        # Stable: asked again with what it holds, the task keeps exactly that.
        assert allocate(task_id, pool, 24, count, keep=found, taken=taken,
                        blocked=blocked) == found
        leased[task_id] = found


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=1, max_size=30), st.lists(_subnet_texts, max_size=6))
def test_the_same_task_gets_the_same_subnets_from_the_same_state(
        task_id: str, taken: list[str]) -> None:
    first = allocate(task_id, "10.199.0.0/20", 24, 2, taken=taken)
    assert allocate(task_id, "10.199.0.0/20", 24, 2, taken=taken) == first


# --- host routes -------------------------------------------------------------------------

ROUTES = """\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
br-0123456789ab\t0000C70A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
tun0\t0000000A\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0
"""


def test_host_routes_are_read_from_proc_without_the_default_route(tmp_path: Path) -> None:
    path = tmp_path / "route"
    path.write_text(ROUTES)

    routes = host_routes(path)

    assert routes == [Route("docker0", net("172.17.0.0/16")), Route("eth0", net("192.0.2.0/24")),
                      Route("br-0123456789ab", net("10.199.0.0/24")),
                      Route("tun0", net("10.0.0.0/8"))]
    # Docker's bridges are judged from Docker's own list (which knows their projects).
    assert blocking_routes(routes) == [net("192.0.2.0/24"), net("10.0.0.0/8")]
    assert host_routes(tmp_path / "missing") == []


def test_this_hosts_routes_parse() -> None:
    for route in host_routes():
        assert route.network.prefixlen > 0


# --- the [networks] settings -------------------------------------------------------------

@pytest.mark.parametrize(("table", "match"), [
    ({"pool": "10.1.0.0/33"}, r"'networks\.pool' must be an IPv4 network"),
    ({"pool": "10.1.0.1/16"}, r"'networks\.pool' must be an IPv4 network.*host bits"),
    ({"pool": "fd00::/64"}, r"'networks\.pool' must be an IPv4 network"),
    ({"prefix": 8}, r"'networks\.prefix' must be between the pool's own prefix and 29 "
                    r"\(16\.\.29\), got 8"),
    ({"prefix": 30}, r"'networks\.prefix' must be between"),
    ({"prefix": "24"}, r"'networks\.prefix' must be an integer, got a string"),
    ({"size": 24}, r"unknown key 'networks\.size'"),
], ids=["bad-mask", "host-bits", "ipv6", "prefix-wider-than-pool", "prefix-too-long",
        "prefix-string", "unknown-key"])
def test_bad_network_settings_are_config_errors_naming_the_key(table: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_config({"networks": table}, project_dir=Path("."), source=None)


def test_network_settings_parse_and_default() -> None:
    config = parse_config({"networks": {"pool": "10.5.0.0/20", "prefix": 26}},
                          project_dir=Path("."), source=None)
    assert config.networks == NetworksConfig(pool="10.5.0.0/20", prefix=26)
    assert parse_config({}, project_dir=Path("."), source=None).networks == NetworksConfig()
