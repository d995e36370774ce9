"""One process's audience index, kept current from the database.

The index (geo.AudienceIndex) answers "who is inside this area". Every change to a subscriber
location takes a new `seq` number in commit order (haven.db.take_numbers), so before each
query the process reads the rows numbered above the last it has seen and applies them: every
process answers from the database's current state, without a full rebuild per change.

Processes share one memory-mapped snapshot file (`HAVEN_AUDIENCE_SNAPSHOT_DIR`): the first
to start builds it from the database and saves it with the `seq` it reflects; the others map
the same pages and only catch up from that number. See docs/geo.md.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from flask import Flask, current_app
from sqlalchemy.orm import Session

from alerts import store
from geo.index import Audience, AudienceIndex
from geo.snapshot import Ids
from haven.settings import Settings


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
    """An audience index plus the last location change number it reflects."""

    def __init__(self, snapshot: Path | None = None) -> None:
        self._index: AudienceIndex | None = None
        self._seq = 0
        self._lock = threading.Lock()
        self.snapshot = snapshot

    def _load(self, session: Session) -> None:
        if self.snapshot is not None and self.snapshot.exists():
            self._index = AudienceIndex.open(self.snapshot)
            self._seq = int(self._index.as_of or 0)
            return
        up_to = store.get_last_location_seq(session=session)
        ids, subscribers, lons, lats = [], [], [], []
        for rows in store.stream_locations(session=session, after_seq=0, up_to_seq=up_to):
            location, subscriber, lon, lat, active, _seq = _columns(rows)
            ids.append(location[active])
            subscribers.append(subscriber[active])
            lons.append(lon[active])
            lats.append(lat[active])
        self._index = AudienceIndex.build(
            np.concatenate(ids) if ids else np.empty(0, np.int32),
            np.concatenate(subscribers) if subscribers else np.empty(0, np.int32),
            np.concatenate(lons) if lons else np.empty(0),
            np.concatenate(lats) if lats else np.empty(0),
            as_of=str(up_to),
        )
        self._seq = up_to
        if self.snapshot is not None:
            self.snapshot.parent.mkdir(parents=True, exist_ok=True)
            self._index.save(self.snapshot)  # atomic: written aside, then renamed

    def catch_up(self, session: Session) -> AudienceIndex:
        """Apply every location change committed since the last call; return the index."""
        with self._lock:
            if self._index is None:
                self._load(session)
            assert self._index is not None
            for rows in store.stream_locations(session=session, after_seq=self._seq):
                location, subscriber, lon, lat, active, seq = _columns(rows)
                gone = location[~active]
                if len(gone):
                    self._index.remove(gone)
                if active.any():
                    self._index.upsert(
                        location[active], subscriber[active], lon[active], lat[active]
                    )
                self._seq = int(seq[-1])
            return self._index

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
    app.extensions["haven.audience"] = LiveAudience(
        snapshot_path(settings.audience_snapshot_dir, settings.database_url)
    )


def get_audience() -> LiveAudience:
    """The current app's audience index."""
    live: LiveAudience = current_app.extensions["haven.audience"]
    return live
