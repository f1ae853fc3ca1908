"""`compose-gen doctor`: what would make `up` fail or tasks collide, one finding a line."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from compose_gen.coerce import TextEnum
from compose_gen.errors import ComposeGenError

# Networks without a leased subnet (the base's own with a fixed ipam aside, those of other
# projects) take one from Docker's default address pools, which hold about 31 in all; after
# that Docker fails with "could not find an available, non-overlapping IPv4 address pool".
NETWORK_WARNING_THRESHOLD = 25
# Warn when fewer than this share of the subnet pool is free.
SUBNET_HEADROOM_WARNING = 0.1


class Level(TextEnum):
    OK = "ok"
    WARN = "warn"
    ERROR = "error"  # would make `up` fail: `doctor` exits 1


OK, WARN, ERROR = Level.OK, Level.WARN, Level.ERROR


@dataclass(frozen=True)
class Finding:
    level: Level
    text: str


def run_checks(project_dir: Path | None, config_file: Path | None) -> Iterator[Finding]:
    from compose_gen import stack
    from compose_gen.config import load_config
    from compose_gen.inventory import gc_reason, stacks
    from compose_gen.lifecycle import base_files
    from compose_gen.ports import check_range, ephemeral_range

    docker_ok = True
    try:
        yield Finding(OK, f"Docker engine {stack.ping_daemon()} answers")
    except ComposeGenError as err:
        docker_ok = False
        yield Finding(ERROR, str(err))
    try:
        version = stack.compose_version()
        yield Finding(OK, f"Compose {'.'.join(map(str, version))} (>= 2.24 for !override)")
    except ComposeGenError as err:
        yield Finding(ERROR, str(err))
        return

    try:
        config = load_config(project_dir, config_file=config_file)
    except ComposeGenError as err:
        yield Finding(ERROR, f"config: {err}")
        return
    yield Finding(OK, f"config {config.source_label}")

    try:
        check_range(config.ports)
        low_high = ephemeral_range()
        extra = f", below the ephemeral range {low_high[0]}-{low_high[1]}" if low_high else ""
        yield Finding(OK, f"port range {config.ports.range_start}-{config.ports.range_end} "
                          f"({config.ports.slots} blocks of {config.ports.block_size}){extra}")
    except ComposeGenError as err:
        yield Finding(ERROR, str(err))

    try:
        base = stack.read_compose_config(base_files(config), {})
    except ComposeGenError as err:
        yield Finding(ERROR, f"compose files: {err}")
        return
    findings = list(_check_base(config, base))
    yield from findings
    if not any(f.level == ERROR for f in findings):
        yield from _planned_changes(config, base)

    if docker_ok:
        try:
            infos = stacks()
        except ComposeGenError as err:
            yield Finding(WARN, f"cannot list stacks: {err}")
            return
        leaked = [info for info in infos if gc_reason(info)]
        if leaked:
            yield Finding(WARN, f"{len(leaked)} leaked stack(s): "
                                f"{', '.join(i.project for i in leaked)}; run `compose-gen gc`")
        else:
            yield Finding(OK, f"{len(infos)} compose-gen stack(s) on this host, none leaked")
        yield from _check_subnets(config)


def _check_subnets(config) -> Iterator[Finding]:  # noqa: ANN001
    """The subnet pool's headroom, and how many networks live on Docker's default pools."""
    import ipaddress

    from compose_gen import stack, subnets
    from compose_gen.leases import LeaseRegistry

    try:
        networks = stack.list_networks()
    except ComposeGenError as err:
        yield Finding(WARN, f"cannot list Docker networks: {err}")
        return
    pool, prefix = config.networks.pool, config.networks.prefix
    pool_net = ipaddress.IPv4Network(pool)
    leased = [s for lease in LeaseRegistry().all().values() for s in lease.subnets]
    docker_subnets = [ipaddress.IPv4Network(s) for net in networks for s in net.subnets]
    routes = subnets.blocking_routes(subnets.host_routes())
    free, total = subnets.free_count(pool, prefix, leased, [*routes, *docker_subnets])
    in_pool = sum(any(ipaddress.IPv4Network(s).subnet_of(pool_net) for s in net.subnets)
                  for net in networks)
    on_default = len(networks) - in_pool
    text = (f"subnet pool {pool}: {free} of {total} /{prefix} subnets free ({len(leased)} "
            f"leased); Docker has {len(networks)} networks, {in_pool} in the pool")
    if free == 0 or free < total * SUBNET_HEADROOM_WARNING:
        clash = [str(r) for r in routes if r.overlaps(pool_net)]
        why = f"; host routes overlap it: {', '.join(clash)}" if clash else ""
        level = ERROR if free == 0 else WARN
        yield Finding(level, f"{text}{why}; run `compose-gen gc` or set networks.pool to a "
                             "wider or another private range")
    else:
        yield Finding(OK, text)
    if on_default > NETWORK_WARNING_THRESHOLD:
        yield Finding(WARN, f"{on_default} Docker networks take subnets from Docker's "
                            "default address pools, which run out at about 31")


def _check_base(config, base: dict) -> Iterator[Finding]:  # noqa: ANN001
    services = base.get("services") or {}
    names = [config.database.service, *config.workers.services]
    if config.database.seed_service:
        names.append(config.database.seed_service)
    for name in names:
        if name not in services:
            yield Finding(ERROR, f"service '{name}' named in the config is not in the "
                                 f"compose files (services: {', '.join(sorted(services))})")
    fixed = [f"{name}:{p.get('published')}" for name, svc in services.items()
             for p in svc.get("ports") or () if p.get("published")]
    if fixed:
        yield Finding(OK, f"fixed host ports {', '.join(fixed)} are moved into each "
                          "task's block on 127.0.0.1")
    for name, svc in sorted(services.items()):
        if svc.get("container_name"):
            yield Finding(WARN, f"service '{name}' sets container_name "
                                f"'{svc['container_name']}'; compose-gen removes it per task, "
                                "so nothing may rely on that name")
        if svc.get("network_mode") == "host":
            yield Finding(ERROR, f"service '{name}' uses network_mode: host; its ports cannot "
                                 "be isolated per task")
    project = base.get("name", "")
    for kind in ("volumes", "networks"):
        for key, spec in sorted((base.get(kind) or {}).items()):
            spec = spec or {}
            if spec.get("external"):
                yield Finding(WARN, f"{kind[:-1]} '{key}' is external: every task shares it")
            elif spec.get("name") and spec["name"] != f"{project}_{key}":
                yield Finding(WARN, f"{kind[:-1]} '{key}' has a fixed name "
                                    f"'{spec['name']}': every task shares it")
    volume = config.media.volume
    if volume and volume not in (base.get("volumes") or {}):
        yield Finding(ERROR, f"media.volume '{volume}' is not a volume of the compose files")


def _planned_changes(config, base: dict) -> Iterator[Finding]:  # noqa: ANN001
    """What `up` will change in the project's stack, said before it does (a dry render)."""
    from compose_gen import planning, render
    from compose_gen.ports import block_for_slot
    from compose_gen.task import make_task

    try:
        task = make_task("doctor", config)
        plan = planning.plan(config, task, block_for_slot(0, config.ports), base, 2, "x" * 32)
    except ComposeGenError as err:
        yield Finding(ERROR, f"render: {err}")
        return
    for port in plan.shared_ports:
        if port.added:
            yield Finding(OK, f"{port.service} publishes no port: each task gets "
                              f"{port.env_name} on 127.0.0.1 for {port.service}:{port.target}")
    rewritten = sorted(s.name for s in plan.override.services
                       if s.environment and s.name != config.database.service)
    if rewritten or plan.database.base_password:
        where = f" in {', '.join(rewritten)} and" if rewritten else ""
        yield Finding(OK, f"a password per task replaces the base database password{where} "
                          "in every worker copy (environment and env_file values, URLs)")
    if plan.database.base_password is None:
        yield Finding(WARN, f"service '{config.database.service}' sets no "
                            f"{config.database.password_env}: services keep their own "
                            "database passwords, which must then match the generated one")
    group = list(config.workers.services)
    if group:
        yield Finding(OK, f"per worker i: {', '.join(f'{s}_w<i>' for s in group)} with its own "
                          f"database, answering to {', '.join(group)} on its own network"
                          + (f"; [workers.env]: {', '.join(config.workers.env)}"
                             if config.workers.env else ""))
        if not any(w.base_url for w in plan.workers):
            yield Finding(WARN, "no worker service publishes a port: no E2E_BASE_URL_W<i>, "
                                "and `up` cannot wait for the workers to answer HTTP")
    media = config.media.volume or config.media.path
    if media:
        seeded = " holding a copy of what the seed wrote" if plan.seed_copy else ""
        yield Finding(OK, f"media: a volume per worker at {config.media.path or media}{seeded}")
    for note in render.keep_out_of_build_contexts(config, base, dry_run=True):
        yield Finding(OK, f"up will have {note}")
