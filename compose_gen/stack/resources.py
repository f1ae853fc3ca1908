"""Docker objects by label: what compose-gen finds, copies, connects and removes. Only
objects carrying our label (or Compose's label of one of our projects) are ever touched."""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from compose_gen.stack.client import client, docker_errors


@dataclass(frozen=True)
class Resource:
    kind: str  # container | volume | network
    name: str
    project: str
    task_id: str
    labels: dict[str, str]
    state: str = ""
    ports: tuple[str, ...] = ()


def labelled_resources(label: str, value: str | None = None) -> list[Resource]:
    """Every container, volume and network carrying our label (optionally with a value).

    Other tasks create and remove objects all the time: one that vanishes between the
    listing and the inspection is simply not there, never an error.
    """
    selector = f"{label}={value}" if value is not None else label
    found: list[Resource] = []
    with docker_errors("list compose-gen's containers, volumes and networks"):
        for c in _inspect("container", _ids("container", "--all", "--no-trunc",
                                            "--filter", f"label={selector}")):
            labels = dict((c.get("Config") or {}).get("Labels") or {})
            ports = tuple(sorted(
                f"{binding['HostIp']}:{binding['HostPort']}->{container_port}"
                for container_port, bindings in
                ((c.get("NetworkSettings") or {}).get("Ports") or {}).items()
                for binding in (bindings or [])))
            found.append(Resource("container", str(c.get("Name", "")).lstrip("/"),
                                  labels.get("com.docker.compose.project", ""),
                                  labels.get(label, ""), labels,
                                  str((c.get("State") or {}).get("Status", "")), ports))
        for kind in ("volume", "network"):
            ids = _ids(kind, "--filter", f"label={selector}",
                       *(["--no-trunc"] if kind == "network" else []))
            for obj in _inspect(kind, ids):
                labels = dict(obj.get("Labels") or {})
                found.append(Resource(kind, str(obj.get("Name", "")),
                                      labels.get("com.docker.compose.project", ""),
                                      labels.get(label, ""), labels))
    return found


def _ids(kind: str, *args: str) -> list[str]:
    from python_on_whales.utils import run

    return str(run([*client().client_config.docker_cmd, kind, "ls", "--quiet", *args])).split()


def _inspect(kind: str, ids: list[str]) -> list[dict[str, Any]]:
    """`docker <kind> inspect` of many objects in one call; the ones removed since they were
    listed are left out (Docker still prints the others)."""
    from python_on_whales.exceptions import NoSuchContainer, NoSuchNetwork, NoSuchVolume
    from python_on_whales.utils import run

    if not ids:
        return []
    try:
        raw = str(run([*client().client_config.docker_cmd, kind, "inspect", *ids]))
    except (NoSuchContainer, NoSuchNetwork, NoSuchVolume) as err:
        raw = str(err.stdout or "[]")
    return list(json.loads(raw or "[]"))


def remove_resources(resources: Sequence[Resource]) -> None:
    """Containers first, then networks and volumes they held; each only if still labelled."""
    from python_on_whales.exceptions import (
        DockerException,
        NoSuchContainer,
        NoSuchNetwork,
        NoSuchVolume,
    )

    docker = client()
    order = {"container": 0, "network": 1, "volume": 2}
    anonymous: list[str] = []
    for res in sorted(resources, key=lambda r: order[r.kind]):
        with docker_errors(f"remove {res.kind} {res.name}"):
            try:
                if res.kind == "container":
                    anonymous += _anonymous_volumes(docker, res.name)
                    _remove_container(docker, res.name)
                elif res.kind == "network":
                    docker.network.remove(res.name)
                else:
                    docker.volume.remove(res.name)
            except (NoSuchContainer, NoSuchNetwork, NoSuchVolume):
                pass  # gone already: another `down` or `gc` got there first
    # When Compose recreates a container it hands the old one's anonymous volumes (an image's
    # VOLUME, e.g. redis's /data) to the new one as mounts by name, so `rm -v` keeps them.
    # They were made for our container: remove them unless something else still uses them.
    for name in anonymous:
        with contextlib.suppress(DockerException):
            docker.volume.remove(name)


# What Docker answers while another client (a concurrent `down` or `gc`) removes the container.
_REMOVAL_IN_PROGRESS = "is already in progress"
REMOVAL_WAIT_SECONDS = 60.0


def _remove_container(docker: Any, name: str) -> None:
    """Remove a container; one that another client is removing already is waited for until it
    is gone, as its networks and volumes are removed next and stay in use until then."""
    from python_on_whales.exceptions import DockerException

    try:
        docker.container.remove(name, force=True, volumes=True)
    except DockerException as err:
        if _REMOVAL_IN_PROGRESS not in (err.stderr or ""):
            raise
        deadline = time.monotonic() + REMOVAL_WAIT_SECONDS
        while docker.container.exists(name):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


_ANONYMOUS_VOLUME = re.compile(r"^[0-9a-f]{64}$")


def _anonymous_volumes(docker: Any, container: str) -> list[str]:
    """Volumes of the container with Docker's generated names (and no labels of their own)."""
    from python_on_whales.exceptions import DockerException

    try:
        mounts = docker.container.inspect(container).mounts or []
    except DockerException:
        return []
    names = [m.name for m in mounts
             if m.type == "volume" and m.name and _ANONYMOUS_VOLUME.match(m.name)]
    try:
        return [name for name in names if not docker.volume.inspect(name).labels]
    except DockerException:
        return []


_COPY_SCRIPT = "find /to -mindepth 1 -delete && cp -a /from/. /to/"


def copy_volume(image: str, source: str, target: str, labels: dict[str, str]) -> None:
    """Make volume `target` a copy of volume `source`, in a throw-away container of `image`
    (any image with a POSIX shell, find and cp: the database's image is always at hand)."""
    with docker_errors(f"copy volume {source} into {target}"):
        client().run(image, ["-c", _COPY_SCRIPT], entrypoint="sh", remove=True,
                      volumes=[(source, "/from", "ro"), (target, "/to")], labels=labels,
                      user="0")


def remove_volume(name: str) -> None:
    from python_on_whales.exceptions import NoSuchVolume

    with docker_errors(f"remove volume {name}", passthrough=(NoSuchVolume,)), \
            contextlib.suppress(NoSuchVolume):
        client().volume.remove(name)


@dataclass(frozen=True)
class DockerNetwork:
    name: str
    project: str  # its Compose project label; "" for a network Compose did not make
    subnets: tuple[str, ...]  # IPv4 only


def list_networks() -> list[DockerNetwork]:
    """Every Docker network with its IPv4 subnets: the subnet lease avoids them."""
    import ipaddress

    found = []
    with docker_errors("list Docker networks"):
        networks = _inspect("network", _ids("network", "--no-trunc"))
    for net in networks:
        subnets = []
        for entry in (net.get("IPAM") or {}).get("Config") or ():
            with contextlib.suppress(ValueError, TypeError):
                if ipaddress.ip_network(entry.get("Subnet")).version == 4:
                    subnets.append(entry["Subnet"])
        labels = net.get("Labels") or {}
        found.append(DockerNetwork(net.get("Name", ""),
                                   labels.get("com.docker.compose.project", ""),
                                   tuple(subnets)))
    return found


def untag_project_images(project: str) -> None:
    """Remove the tags Compose gave images it built for `project` (`<project>-<service>`: our
    project names are ours alone), keeping their layers as build cache. An `image:` name of
    the project's own is shared with other tasks and stays."""
    from python_on_whales.exceptions import DockerException

    docker = client()
    with docker_errors(f"list the images built for {project}"):
        images = docker.image.list(filters=[("label", f"com.docker.compose.project={project}")])
    for image in images:
        for tag in image.repo_tags or []:
            if tag.startswith(f"{project}-"):
                # In use by a container of another task (same layers, other tag) or gone.
                with contextlib.suppress(DockerException):
                    docker.image.remove(tag, prune=False)


def disconnect_all(network: str) -> None:
    """Disconnect every container from `network`, so that it can be removed."""
    from python_on_whales.exceptions import NoSuchContainer, NoSuchNetwork

    docker = client()
    with docker_errors(f"disconnect containers from {network}",
                        passthrough=(NoSuchNetwork,)), contextlib.suppress(NoSuchNetwork):
        for name in list((docker.network.inspect(network).containers or {}).keys()):
            with contextlib.suppress(NoSuchContainer):
                docker.network.disconnect(network, name, force=True)
