"""The one door to Docker: every Compose and Docker call goes through this package.

- `client`: python-on-whales and the translation of its failures into compose-gen's errors;
- `compose`: Compose commands of a task's project (read its files, build, start, seed, stop);
- `resources`: Docker objects found and removed by label, volumes copied, networks joined.

Callers use the names below (`stack.up(...)`), never python-on-whales.
"""

from compose_gen.stack.client import (
    ComposeFiles,
    env_files_for,
    files_args,
    quote_command,
)
from compose_gen.stack.compose import (
    MIN_COMPOSE,
    ServiceState,
    build,
    compose_version,
    connect_networks,
    create,
    down,
    last_logs,
    ping_daemon,
    read_compose_config,
    referenced_variables,
    run_once,
    service_states,
    up,
    validate_files,
)
from compose_gen.stack.resources import (
    DockerNetwork,
    Resource,
    copy_volume,
    disconnect_all,
    labelled_resources,
    list_networks,
    remove_resources,
    remove_volume,
    untag_project_images,
)

__all__ = [
    "MIN_COMPOSE", "ComposeFiles", "DockerNetwork", "Resource", "ServiceState", "build",
    "compose_version", "connect_networks", "copy_volume", "create", "disconnect_all", "down",
    "env_files_for", "files_args", "labelled_resources", "last_logs", "list_networks",
    "ping_daemon", "quote_command", "read_compose_config", "referenced_variables",
    "remove_resources", "remove_volume", "run_once", "service_states", "untag_project_images",
    "up", "validate_files",
]
