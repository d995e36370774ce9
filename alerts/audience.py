"""One process's audience index, kept current from the database.

The index (geo.AudienceIndex) answers "who is inside this area". Every change to a subscriber
location takes a new `seq` number in commit order (haven.db.take_numbers), so before each
query the process reads the rows numbered above the last it has seen and applies them: every
process answers from the database's current state, without a full rebuild per change.

Processes share one memory-mapped snapshot file (`HAVEN_AUDIENCE_SNAPSHOT_DIR`): the first
to start builds it from the database and saves it with the database's identity (the random
id of `haven_instance`) and the `seq` it reflects; the others map the same pages and only
catch up from that number. A snapshot of another database, or one whose checkpoint is past
the database's last change, is rebuilt, never trusted. See docs/geo.md.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from flask import Flask, current_app
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from alerts import store
from geo.index import Audience, AudienceIndex
from geo.snapshot import Ids
from haven.db import Database, get_database_identity
from haven.health import Readiness, add_readiness_check
from haven.settings import Settings

log = logging.getLogger(__name__)


def _columns(rows: Sequence[store.LocationRow]) -> tuple[np.ndarray[Any, Any], ...]:
    table = np.array(rows, dtype=np.float64).reshape(-1, 6)
    return (
        table[:, 0].astype(np.int32),
        table[:, 1].astype(np.int32),
        table[:, 2],
        table[:, 3],
        table[:, 4].astype(bool),
        table[:, 5].astype(np.int64),
    )


class LiveAudience:
    """An audience index plus the database and last location change number it reflects.

    Readiness (see `check`): LOADING until the index is loaded (or while it is rebuilt),
    READY once it has caught up, BEHIND when it is loaded but the last catch-up failed.
    """

    def __init__(
        self, snapshot: Path | None = None, *, sessions: Callable[[], Session] | None = None
    ) -> None:
        self._index: AudienceIndex | None = None
        self._seq = 0
        self._source = ""
        self._lock = threading.Lock()
        self._state = Readiness.LOADING
        self._loader: threading.Thread | None = None
        self.snapshot = snapshot
        self.sessions = sessions

    @property
    def state(self) -> Readiness:
        """The last known readiness, without touching the database."""
        return self._state

    def _usable(self, identity: str, last: int) -> bool:
        """Whether the loaded index may be caught up from a database with this id and this
        highest change number. A reset gives the database a new id; a restored older
        backup keeps the id but its changes stop below the ones already applied."""
        return self._index is not None and identity == self._source and self._seq <= last

    def _load(self, session: Session, identity: str, last: int) -> None:
        self._state = Readiness.LOADING
        self._index = None
        index = self._open_snapshot(identity, last)
        if index is None:
            index = self._build(session, identity, last)
            if self.snapshot is not None and identity:
                self.snapshot.parent.mkdir(parents=True, exist_ok=True)
                index.save(self.snapshot)  # atomic: written aside, then renamed
        self._index, self._seq, self._source = index, int(index.as_of), identity

    def _open_snapshot(self, identity: str, last: int) -> AudienceIndex | None:
        """The shared snapshot, if it was built from this database and can catch up: its
        checkpoint must not be past the database's highest change number."""
        if self.snapshot is None or not identity:
            return None
        try:
            index = AudienceIndex.open(self.snapshot)
        except (OSError, ValueError, KeyError):
            return None  # missing, torn, or of another format: rebuild
        if index.source != identity:
            log.warning("audience snapshot %s is from another database; rebuilding", self.snapshot)
            return None
        checkpoint = int(index.as_of) if index.as_of.isdigit() else -1
        if not 0 <= checkpoint <= last:
            log.warning(
                "audience snapshot %s is at change %s but the database ends at %d; rebuilding",
                self.snapshot,
                index.as_of,
                last,
            )
            return None
        return index

    @staticmethod
    def _build(session: Session, identity: str, up_to: int) -> AudienceIndex:
        ids, subscribers, lons, lats = [], [], [], []
        for rows in store.stream_locations(session=session, after_seq=0, up_to_seq=up_to):
            location, subscriber, lon, lat, active, _seq = _columns(rows)
            ids.append(location[active])
            subscribers.append(subscriber[active])
            lons.append(lon[active])
            lats.append(lat[active])
        return AudienceIndex.build(
            np.concatenate(ids) if ids else np.empty(0, np.int32),
            np.concatenate(subscribers) if subscribers else np.empty(0, np.int32),
            np.concatenate(lons) if lons else np.empty(0),
            np.concatenate(lats) if lats else np.empty(0),
            as_of=str(up_to),
            source=identity,
        )

    def catch_up(self, session: Session) -> AudienceIndex:
        """Apply every location change committed since the last call; return the index.

        Loads the index first if needed, and rebuilds it when the database is not the one
        it was built from (reset or restored): the index never answers for another database.
        """
        with self._lock:
            try:
                index = self._catch_up(session, rebuild=True)
                assert index is not None
                return index
            except Exception:
                self._state = Readiness.BEHIND if self._index else Readiness.LOADING
                raise

    def _catch_up(self, session: Session, *, rebuild: bool) -> AudienceIndex | None:
        """The caught-up index (caller holds the lock), or None if it needs a (re)load and
        `rebuild` is false."""
        identity = get_database_identity(session)
        last = store.get_last_location_seq(session=session)
        if not self._usable(identity, last):
            if not rebuild:
                self._state = Readiness.LOADING
                return None
            self._load(session, identity, last)
        assert self._index is not None
        for rows in store.stream_locations(session=session, after_seq=self._seq):
            location, subscriber, lon, lat, active, seq = _columns(rows)
            gone = location[~active]
            if len(gone):
                self._index.remove(gone)
            if active.any():
                self._index.upsert(location[active], subscriber[active], lon[active], lat[active])
            self._seq = int(seq[-1])
        self._state = Readiness.READY
        return self._index

    def check(self, session: Session) -> Readiness:
        """Catch up now, unless another thread holds the index, and say whether it is ready.

        Never waits for a load: when the index is not loaded, or must be rebuilt, loading
        starts in the background (with `sessions`) and the answer is LOADING meanwhile.
        """
        if not self._lock.acquire(blocking=False):
            return self._state  # another thread is loading or catching up
        try:
            needs_load = self._catch_up(session, rebuild=self.sessions is None) is None
        except SQLAlchemyError:
            log.warning("the audience index cannot catch up with the database", exc_info=True)
            self._state = Readiness.BEHIND if self._index else Readiness.LOADING
            needs_load = self._index is None
        finally:
            self._lock.release()
        if needs_load:
            self._start_loading()
        return self._state

    def _start_loading(self) -> None:
        if self.sessions is None or (self._loader is not None and self._loader.is_alive()):
            return
        self._loader = threading.Thread(target=self._load_now, name="haven-audience", daemon=True)
        self._loader.start()

    def _load_now(self) -> None:
        assert self.sessions is not None
        try:
            with self.sessions() as session:
                self.catch_up(session)
        except Exception:
            log.exception("could not load the audience index; it is tried again when asked")

    def audience(
        self, session: Session, geometries: Sequence[Any], *, only: Ids | None = None
    ) -> Audience:
        """Everyone inside any of the geometries (among `only`, if given), as of the
        database's current state."""
        return self.catch_up(session).audience(geometries, only=only)


def snapshot_path(directory: Path | None, database_url: str) -> Path | None:
    """Where the snapshot of this database's audience lives (one file per database)."""
    if directory is None:
        return None
    name = hashlib.sha256(database_url.encode()).hexdigest()[:16]
    return directory / f"audience-{name}.snapshot"


def init_app(app: Flask) -> None:
    """Give the app its audience index (loaded on first use)."""
    settings: Settings = app.extensions["haven.settings"]
    database: Database = app.extensions["haven.db"]
    live = LiveAudience(
        snapshot_path(settings.audience_snapshot_dir, settings.database_url),
        sessions=database.sessions,
    )
    app.extensions["haven.audience"] = live
    add_readiness_check(app, name="audience", check=live.check)


def get_audience() -> LiveAudience:
    """The current app's audience index."""
    live: LiveAudience = current_app.extensions["haven.audience"]
    return live
