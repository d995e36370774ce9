"""The `haven` SignalExchangeAPI: Haven's native feed for python-threatexchange and HMA.

Unlike the StopNCII protocol (which stock python-threatexchange 1.2.17 reads without ever
deleting), this exchange turns every withdrawn hash into a deletion, and it delivers image
MD5s as `photo_md5`. The first fetch takes the full export; later ones poll from the cursor.

vPDQ hashes (video) are delivered as threatexchange's own `vpdq` signal type, keyed by their
signal string (Haven's `features`), when its `vpdq` extension can be imported (it needs the
native `vpdq` package and faiss); otherwise they are skipped, and the log says so once.
"""

from __future__ import annotations

import json
import logging
import typing as t
from collections.abc import Iterator
from dataclasses import dataclass, field

from threatexchange.exchanges import auth, signal_exchange_api
from threatexchange.exchanges import fetch_state as state
from threatexchange.exchanges.collab_config import CollaborationConfigBase
from threatexchange.signal_type.md5 import VideoMD5Signal
from threatexchange.signal_type.pdq.signal import PdqSignal
from threatexchange.signal_type.signal_base import SignalType

from haven_threatexchange.client import (
    Change,
    HavenCursorMismatch,
    HavenError,
    HavenFeedClient,
    HavenFeedWentBackwards,
    Page,
)
from haven_threatexchange.signals import PhotoMD5Signal, vpdq_digest

log = logging.getLogger(__name__)

Outcome = t.Literal["matched", "removed", "not_violating", "unable_to_action"]

# (media, algorithm) in Haven's feed -> the SignalType that carries it.
SIGNAL_FOR: dict[tuple[str, str], type[SignalType]] = {
    ("image", "pdq"): PdqSignal,
    ("image", "md5"): PhotoMD5Signal,
    ("video", "md5"): VideoMD5Signal,
}
VPDQ = ("video", "vpdq")
# Why vPDQ hashes are skipped ("" when they are not): threatexchange's vpdq extension imports
# the native `vpdq` package and faiss, which a platform may not have installed.
VPDQ_UNAVAILABLE = ""
try:
    from threatexchange.extensions.vpdq.vpdq import VPDQSignal
    from threatexchange.extensions.vpdq.vpdq_util import (
        VPDQ_QUALITY_THRESHOLD,
        prepare_vpdq_feature,
    )
except ImportError as exc:
    VPDQ_UNAVAILABLE = str(exc)
else:
    SIGNAL_FOR[VPDQ] = VPDQSignal
_vpdq_skip_logged = False
_ALGORITHM_FOR: dict[str, str] = {
    s.get_name(): algorithm for (_media, algorithm), s in SIGNAL_FOR.items()
}
_TYPE_NAME_FOR: dict[tuple[str, str], str] = {k: s.get_name() for k, s in SIGNAL_FOR.items()}
_OUTCOME_FOR: dict[state.SignalOpinionCategory, Outcome] = {
    state.SignalOpinionCategory.POSITIVE_CLASS: "removed",
    state.SignalOpinionCategory.NEGATIVE_CLASS: "not_violating",
    state.SignalOpinionCategory.INVESTIGATION_SEED: "matched",
}


@dataclass
class HavenCheckpoint(state.FetchCheckpointBase):
    """Where the fetch stands: the cursor to poll after, and which Haven issued it.

    `exporting` is true while the first full export is only partly merged; such a checkpoint
    is stale, so the CLI (and HMA) throw the partial state away and export afresh.
    """

    cursor: int
    instance: str
    progress_time: int  # newest `changed_at` seen (epoch seconds); never decreases
    exporting: bool = False

    def is_stale(self) -> bool:
        """Only a half-merged export is stale: a cursor stays valid however old it is."""
        return self.exporting

    def get_progress_timestamp(self) -> int | None:
        """The newest change time seen (hour-grained, as Haven gives it)."""
        return self.progress_time


@dataclass
class HavenSignalMetadata(state.FetchedSignalMetadata):
    """A hash from an anonymous Take It Down case: what it was computed on, and when."""

    media: str
    algorithm: str
    changed_at: int

    def get_as_opinions(self) -> t.Sequence[state.SignalOpinion]:
        """Every hash is a family's own report, unreviewed: a seed for investigation."""
        return [state.SignalOpinion(False, state.SignalOpinionCategory.INVESTIGATION_SEED, set())]


@dataclass
class HavenCredentials(auth.CredentialHelper):
    """Haven's base URL and the platform's API key (`hvp_...` from `haven platform add`).

    Found, in order: HMA's credential_json or the CLI's default (when set), the environment
    variable TX_HAVEN_CREDENTIALS, the file ~/.tx_haven_credentials. The variable and the
    file hold `BASE_URL,API_KEY` or the JSON `{"base_url": ..., "api_key": ...}`.
    """

    ENV_VARIABLE: t.ClassVar[str] = "TX_HAVEN_CREDENTIALS"
    FILE_NAME: t.ClassVar[str] = "~/.tx_haven_credentials"

    base_url: str = field(metadata={"help": "Haven's address, e.g. https://haven.example.org"})
    api_key: str = field(metadata={"help": "The platform's API key (hvp_...)"})

    @classmethod
    def _from_str(cls, s: str) -> HavenCredentials:
        s = s.strip()
        if s.startswith("{"):
            data = json.loads(s)
            return cls(base_url=str(data["base_url"]), api_key=str(data["api_key"]))
        base_url, sep, api_key = s.rpartition(",")
        if not sep:
            raise ValueError("Haven credentials are 'BASE_URL,API_KEY' or a JSON object")
        return cls(base_url=base_url.strip(), api_key=api_key.strip())

    def _are_valid(self) -> bool:
        return self.base_url.startswith(("http://", "https://")) and bool(self.api_key)


class HavenSignalExchangeAPI(
    auth.SignalExchangeWithAuth[CollaborationConfigBase, HavenCredentials],
    signal_exchange_api.SignalExchangeAPIWithSimpleUpdates[
        CollaborationConfigBase, HavenCheckpoint, HavenSignalMetadata
    ],
):
    """Haven's Take It Down hash feed, additions and withdrawals, as exchange `haven`.

    Records are keyed (signal type name, hash); a withdrawn hash yields None, which deletes
    it. Errors stop the fetch with a `HavenError` before anything past the last good page is
    yielded, so a stored checkpoint always matches the data stored with it.
    """

    PAGE_SIZE: t.ClassVar[int] = 5000
    EXPORT_BATCH: t.ClassVar[int] = 10_000

    def __init__(self, collab: CollaborationConfigBase, client: HavenFeedClient) -> None:
        super().__init__()
        self.collab = collab
        self.client = client

    @classmethod
    def get_name(cls) -> str:
        """`haven`: fixed, since fetched state is stored under it."""
        return "haven"

    @staticmethod
    def get_config_cls() -> type[CollaborationConfigBase]:
        """No settings beyond the common ones: the credentials say which Haven."""
        return CollaborationConfigBase

    @staticmethod
    def get_checkpoint_cls() -> type[HavenCheckpoint]:
        """See HavenCheckpoint."""
        return HavenCheckpoint

    @staticmethod
    def get_record_cls() -> type[HavenSignalMetadata]:
        """See HavenSignalMetadata."""
        return HavenSignalMetadata

    @staticmethod
    def get_credential_cls() -> type[HavenCredentials]:
        """See HavenCredentials."""
        return HavenCredentials

    @classmethod
    def for_collab(
        cls,
        collab: CollaborationConfigBase,
        credentials: HavenCredentials | None = None,
    ) -> HavenSignalExchangeAPI:
        """An exchange with the given credentials, or those found in the environment."""
        credentials = credentials or HavenCredentials.get(cls)
        if not credentials._are_valid():
            raise auth.SignalExchangeAPIInvalidAuthException(
                cls, "base_url must be an http(s) URL and api_key must not be empty"
            )
        return cls(collab, HavenFeedClient(credentials.base_url, credentials.api_key))

    def fetch_iter(
        self,
        _supported_signal_types: t.Sequence[type[SignalType]],
        checkpoint: HavenCheckpoint | None,
    ) -> Iterator[state.FetchDelta[tuple[str, str], HavenSignalMetadata, HavenCheckpoint]]:
        """The full export on the first fetch (or after a half-done one), then every change
        after the cursor, page by page, each with the checkpoint that follows it."""
        if checkpoint is None or checkpoint.exporting:
            checkpoint = yield from self._export()
        yield from self._poll(checkpoint)

    def _export(
        self,
    ) -> t.Generator[
        state.FetchDelta[tuple[str, str], HavenSignalMetadata, HavenCheckpoint],
        None,
        HavenCheckpoint,
    ]:
        progress = 0
        with self.client.export() as export:
            batch: dict[tuple[str, str], HavenSignalMetadata | None] = {}
            for change in export.hashes:
                record = _record(change)
                if record is None:
                    continue
                batch[record[0]] = record[1]
                progress = max(progress, change.changed_at)
                if len(batch) >= self.EXPORT_BATCH:
                    partial = HavenCheckpoint(0, export.instance, progress, exporting=True)
                    yield state.FetchDelta(batch, partial)
                    batch = {}
            done = HavenCheckpoint(export.cursor, export.instance, progress)
            yield state.FetchDelta(batch, done)
        return done

    def _poll(
        self, checkpoint: HavenCheckpoint
    ) -> Iterator[state.FetchDelta[tuple[str, str], HavenSignalMetadata, HavenCheckpoint]]:
        while True:
            page = self.client.fetch_page(after=checkpoint.cursor, limit=self.PAGE_SIZE)
            self._check(page, checkpoint)
            updates: dict[tuple[str, str], HavenSignalMetadata | None] = {}
            progress = checkpoint.progress_time
            for change in page.changes:
                record = _record(change)
                if record is not None:
                    # Later changes overwrite earlier ones: the page is in cursor order.
                    updates[record[0]] = record[1]
                progress = max(progress, change.changed_at)
            following = HavenCheckpoint(page.next, checkpoint.instance or page.instance, progress)
            if updates or following != checkpoint:
                yield state.FetchDelta(updates, following)
            checkpoint = following
            if not page.has_more:
                return

    def _check(self, page: Page, checkpoint: HavenCheckpoint) -> None:
        """Raise unless `page` continues the feed `checkpoint` was taken from."""
        where = self.client.base_url
        if checkpoint.instance and page.instance and page.instance != checkpoint.instance:
            raise HavenCursorMismatch(
                f"The stored cursor {checkpoint.cursor} was issued by another Haven (instance "
                f"{checkpoint.instance}), but {where} is instance {page.instance}. Cursors of "
                "different Havens mean nothing to each other, so nothing was fetched. If you "
                "meant to move to this Haven, clear the fetched state (`threatexchange fetch "
                "--clear`, or delete and recreate the exchange in HMA) and fetch again."
            )
        if page.last is not None and page.last < checkpoint.cursor:
            raise HavenFeedWentBackwards(
                f"The feed at {where} ends at cursor {page.last}, before the stored cursor "
                f"{checkpoint.cursor}: it went backwards (was Haven's database restored from a "
                "backup?). Nothing was fetched. Clear the fetched state (`threatexchange fetch "
                "--clear`) and fetch again, and tell Haven's operator."
            )
        previous = checkpoint.cursor
        for change in page.changes:
            if change.cursor <= previous:
                raise HavenFeedWentBackwards(
                    f"The feed at {where} answered cursor {change.cursor} after {previous}: "
                    "cursors must only grow. Nothing from this page was kept; tell Haven's "
                    "operator."
                )
            previous = change.cursor
        if page.next < previous:
            raise HavenFeedWentBackwards(
                f"The feed at {where} said to continue from cursor {page.next}, before "
                f"{previous}, which it had already given. Nothing from this page was kept."
            )

    def report_opinion(
        self, s_type: type[SignalType], signal: str, opinion: state.SignalOpinion
    ) -> None:
        """Send feedback: a positive opinion is `removed`, a negative one `not_violating`,
        an investigation seed `matched`."""
        self.report_outcome(s_type, signal, _OUTCOME_FOR[opinion.category])

    def report_outcome(
        self, s_type: type[SignalType], signal: str, outcome: Outcome, count: int = 1
    ) -> None:
        """Send feedback with any of Haven's outcomes, `unable_to_action` included, for
        `count` items. Raises ValueError for signal types Haven does not serve."""
        algorithm = _ALGORITHM_FOR.get(s_type.get_name())
        if algorithm is None:
            served = ", ".join(sorted(_ALGORITHM_FOR))
            raise ValueError(f"Haven serves {served} hashes, not {s_type.get_name()}")
        # Haven names a vPDQ hash by the digest of its frames, not by the frames.
        value = vpdq_digest(signal) if algorithm == "vpdq" else s_type.validate_signal_str(signal)
        self.client.send_feedback(algorithm=algorithm, value=value, outcome=outcome, count=count)


def _record(
    change: Change,
) -> tuple[tuple[str, str], HavenSignalMetadata | None] | None:
    """The keyed record for a change (None as the value for a withdrawal), or None when no
    signal type here carries it (e.g. SHA-256, or vPDQ without threatexchange's extension).

    A vPDQ hash is keyed by its signal string (`features`), which is what threatexchange
    indexes and matches; its withdrawal carries the same features, so it deletes that key."""
    key = (change.media, change.algorithm)
    type_name = _TYPE_NAME_FOR.get(key)
    signal = change.value
    if key == VPDQ:
        if type_name is None:
            _log_vpdq_skipped()
            return None
        if not change.features:
            return None  # a Haven that does not send the frames: nothing to match with
        signal = change.features
        if change.status != "withdrawn" and not _vpdq_usable(signal):
            log.info("skipping vPDQ hash %s: no frame is good enough to match", change.value)
            return None
    if type_name is None:
        return None
    if change.status == "withdrawn":
        return (type_name, signal), None
    return (type_name, signal), HavenSignalMetadata(
        change.media, change.algorithm, change.changed_at
    )


def _vpdq_usable(signal: str) -> bool:
    """Whether threatexchange's vPDQ index takes `signal`: it refuses a video with no frame of
    quality 50 or more, and that refusal fails the whole index build. (Haven refuses such
    hashes too, unless its own minimum is set lower.) Only called when the import worked."""
    return bool(prepare_vpdq_feature(signal, VPDQ_QUALITY_THRESHOLD))


def _log_vpdq_skipped() -> None:
    """Say once per process why vPDQ hashes are not fetched."""
    global _vpdq_skip_logged
    if not _vpdq_skip_logged:
        _vpdq_skip_logged = True
        log.warning(
            "Haven's feed has vPDQ (video) hashes, but threatexchange's vpdq extension cannot "
            "be imported (%s), so they are skipped. Install the `vpdq` package (and faiss) to "
            "fetch and match them.",
            VPDQ_UNAVAILABLE,
        )


__all__ = [
    "HavenCheckpoint",
    "HavenCredentials",
    "HavenError",
    "HavenSignalExchangeAPI",
    "HavenSignalMetadata",
]
