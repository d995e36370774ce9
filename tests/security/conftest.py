"""Statistical security checks: slow and, by nature, noisy, so not part of the default run.

`make security` runs them (HAVEN_SECURITY_TESTS=1); without that variable this folder is not
collected at all.
"""

from __future__ import annotations

import os

collect_ignore_glob = [] if os.environ.get("HAVEN_SECURITY_TESTS") == "1" else ["test_*.py"]
