"""Per-worker values: `[workers.env]` templates such as "redis://redis:6379/{index}".

The syntax is Python's `str.format` with plain names only (`{index}`, `{base_url}`,
`{backend_port}`); `{{` and `}}` are literal braces. Attribute or item access, conversions and
format specs are refused, so a template can never reach into compose-gen's objects. The values
substituted are compose-gen's own (numbers, URLs, names); the result is escaped for YAML and
Compose interpolation by the renderer like every other value it writes.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping

# Placeholders every worker has; `<service>_port` is added per worker service.
FIXED = ("index", "worker", "base_url", "host", "database", "database_url")


class PlaceholderError(ValueError):
    """A template names an unknown placeholder or uses more than a plain name."""


def service_key(service: str) -> str:
    """`frontend-dev` -> `frontend_dev`: a service name as a placeholder name."""
    return re.sub(r"[^A-Za-z0-9_]", "_", service)


def known_names(services: Iterable[str]) -> tuple[str, ...]:
    return (*FIXED, *(f"{service_key(s)}_port" for s in services))


def _fields(template: str) -> list[str]:
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as err:  # a lone `{` or `}`
        raise PlaceholderError(f"{err} in {template!r} (write {{{{ and }}}} for braces)") from None
    names = []
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if spec or conversion or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise PlaceholderError(f"{{{name}{'!' + conversion if conversion else ''}"
                                   f"{':' + spec if spec else ''}}} is not a plain placeholder")
        names.append(name)
    return names


def check_template(template: str, services: Iterable[str]) -> None:
    """Raise PlaceholderError naming the first unknown placeholder of `template`."""
    known = known_names(services)
    for name in _fields(template):
        if name not in known:
            raise PlaceholderError(f"unknown placeholder {{{name}}} (known: "
                                   + ", ".join(f"{{{k}}}" for k in known) + ")")


def render_value(template: str, values: Mapping[str, str]) -> str:
    """Substitute `values` into `template` (checked by `check_template` beforehand)."""
    _fields(template)
    missing = [name for name in _fields(template) if name not in values]
    if missing:
        raise PlaceholderError(f"no value for {{{missing[0]}}} in {template!r}")
    return template.format_map(dict(values))
