"""python-threatexchange extension for Haven's Take It Down hash feed.

Add it to the CLI with `threatexchange config extensions add haven_threatexchange`; in HMA,
list `HavenSignalExchangeAPI` among the exchange types (and `PhotoMD5Signal` among the signal
types to match image MD5s). Videos' vPDQ hashes arrive as threatexchange's own `VPDQSignal`
(add `threatexchange.extensions.vpdq.manifest` to the CLI, or `VPDQSignal` to HMA's signal
types) when its native `vpdq` package is installed.
"""

from threatexchange.extensions.manifest import ThreatExchangeExtensionManifest

from haven_threatexchange.api import (
    HavenCheckpoint,
    HavenCredentials,
    HavenSignalExchangeAPI,
    HavenSignalMetadata,
)
from haven_threatexchange.client import (
    HavenAuthError,
    HavenCursorMismatch,
    HavenError,
    HavenFeedWentBackwards,
    HavenProtocolError,
    HavenUnreachable,
)
from haven_threatexchange.signals import PhotoMD5Signal, vpdq_digest

TX_MANIFEST = ThreatExchangeExtensionManifest(
    signal_types=(PhotoMD5Signal,),
    apis=(HavenSignalExchangeAPI,),
)

__all__ = [
    "TX_MANIFEST",
    "HavenAuthError",
    "HavenCheckpoint",
    "HavenCredentials",
    "HavenCursorMismatch",
    "HavenError",
    "HavenFeedWentBackwards",
    "HavenProtocolError",
    "HavenSignalExchangeAPI",
    "HavenSignalMetadata",
    "HavenUnreachable",
    "PhotoMD5Signal",
    "vpdq_digest",
]
