# shellcheck shell=bash
# Shared helpers for scripts/ci/*.sh. Source it; it defines functions only and
# changes no shell options.

# The Debian mirror this machine already uses (deb822 first, then one-line format).
# Read from the machine's own apt configuration at run time: no mirror host name is
# ever written into this repository.
debian_mirror() {
  local uri
  uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  if [ -z "$uri" ]; then
    uri=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  fi
  if [ -z "$uri" ]; then
    uri=$(grep -hoE '^deb +(\[[^]]*\] +)?[^ ]+' /etc/apt/sources.list 2>/dev/null | grep -v security \
          | awk '{print $NF; exit}' || true)
  fi
  if [ -z "$uri" ]; then
    printf 'error: cannot find a Debian mirror in /etc/apt; configure apt first\n' >&2
    return 1
  fi
  printf '%s\n' "$uri"
}
