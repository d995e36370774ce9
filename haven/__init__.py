"""Haven: AMBER alerts by exact geo-targeting, and Take It Down hash-based removal.

The application factory is `haven.app.create_app`.
"""
