"""Haven: AMBER alerts by exact geo-targeting, and Take It Down hash-based removal."""

from haven.app import create_app

__all__ = ["create_app"]
