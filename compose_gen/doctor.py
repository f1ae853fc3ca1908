"""`compose-gen doctor`: what would make `up` fail or tasks collide, one finding a line."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from compose_gen.errors import ComposeGenError

# Every task stack creates a bridge network; the daemon's default address pools hold a few
# dozen, after which Docker fails with "could not find an available ... address pool".
NETWORK_WARNING_THRESHOLD = 25


@dataclass(frozen=True)
class Finding:
    level: str  # ok | warn | error
    text: str


def run_checks(project_dir: Path | None, config_file: Path | None) -> Iterator[Finding]:
    from compose_gen import stack
    from compose_gen.config import load_config
    from compose_gen.lifecycle import base_files, gc_reason, stacks
    from compose_gen.ports import check_range, ephemeral_range

    docker_ok = True
    try:
        yield Finding("ok", f"Docker engine {stack.ping_daemon()} answers")
    except ComposeGenError as err:
        docker_ok = False
        yield Finding("error", str(err))
    try:
        version = stack.compose_version()
        yield Finding("ok", f"Compose {'.'.join(map(str, version))} (>= 2.24 for !override)")
    except ComposeGenError as err:
        yield Finding("error", str(err))
        return

    try:
        config = load_config(project_dir, config_file=config_file)
    except ComposeGenError as err:
        yield Finding("error", f"config: {err}")
        return
    yield Finding("ok", f"config {config.source_label}")

    try:
        check_range(config.ports)
        low_high = ephemeral_range()
        extra = f", below the ephemeral range {low_high[0]}-{low_high[1]}" if low_high else ""
        yield Finding("ok", f"port range {config.ports.range_start}-{config.ports.range_end} "
                            f"({config.ports.slots} blocks of {config.ports.block_size}){extra}")
    except ComposeGenError as err:
        yield Finding("error", str(err))

    try:
        base = stack.read_compose_config(base_files(config), {})
    except ComposeGenError as err:
        yield Finding("error", f"compose files: {err}")
        return
    yield from _check_base(config, base)

    if docker_ok:
        try:
            infos = stacks()
        except ComposeGenError as err:
            yield Finding("warn", f"cannot list stacks: {err}")
            return
        leaked = [info for info in infos if gc_reason(info)]
        if leaked:
            yield Finding("warn", f"{len(leaked)} leaked stack(s): "
                                  f"{', '.join(i.project for i in leaked)}; run `compose-gen gc`")
        else:
            yield Finding("ok", f"{len(infos)} compose-gen stack(s) on this host, none leaked")
        networks = sum(len(info.networks) for info in infos)
        if networks > NETWORK_WARNING_THRESHOLD:
            yield Finding("warn", f"{networks} compose-gen networks exist; Docker's default "
                                  "address pools run out after a few dozen")


def _check_base(config, base: dict) -> Iterator[Finding]:  # noqa: ANN001
    services = base.get("services") or {}
    names = [config.database.service, *config.workers.services]
    if config.database.seed_service:
        names.append(config.database.seed_service)
    for name in names:
        if name not in services:
            yield Finding("error", f"service '{name}' named in the config is not in the "
                                   f"compose files (services: {', '.join(sorted(services))})")
    fixed = [f"{name}:{p.get('published')}" for name, svc in services.items()
             for p in svc.get("ports") or () if p.get("published")]
    if fixed:
        yield Finding("ok", f"fixed host ports {', '.join(fixed)} are moved into each "
                            "task's block on 127.0.0.1")
    for name, svc in sorted(services.items()):
        if svc.get("container_name"):
            yield Finding("warn", f"service '{name}' sets container_name "
                                  f"'{svc['container_name']}'; compose-gen removes it per task, "
                                  "so nothing may rely on that name")
        if svc.get("network_mode") == "host":
            yield Finding("error", f"service '{name}' uses network_mode: host; its ports cannot "
                                   "be isolated per task")
    project = base.get("name", "")
    for kind in ("volumes", "networks"):
        for key, spec in sorted((base.get(kind) or {}).items()):
            spec = spec or {}
            if spec.get("external"):
                yield Finding("warn", f"{kind[:-1]} '{key}' is external: every task shares it")
            elif spec.get("name") and spec["name"] != f"{project}_{key}":
                yield Finding("warn", f"{kind[:-1]} '{key}' has a fixed name "
                                      f"'{spec['name']}': every task shares it")
    volume = config.media.volume
    if volume and volume not in (base.get("volumes") or {}):
        yield Finding("error", f"media.volume '{volume}' is not a volume of the compose files")
