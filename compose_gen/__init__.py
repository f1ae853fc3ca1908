"""compose-gen: an isolated Docker Compose test environment per parallel task."""

__version__ = "0.1.0"
