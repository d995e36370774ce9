"""The deep fuzz runs only under `make fuzz` (HAVEN_FUZZ=1): it takes many minutes."""

from __future__ import annotations

import os

collect_ignore_glob = [] if os.environ.get("HAVEN_FUZZ") == "1" else ["test_*.py"]
