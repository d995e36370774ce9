"""Platforms running the real `threatexchange` CLI with haven_threatexchange get every
addition and every withdrawal from a real Haven served on loopback.

The CLI runs as a subprocess with its own HOME and state folder; nothing of Haven is mocked.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import secrets
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from haven_threatexchange import (
    HavenCredentials,
    HavenSignalExchangeAPI,
    PhotoMD5Signal,
    vpdq_digest,
)
from sqlalchemy import create_engine, update
from sqlalchemy.engine import make_url
from threatexchange.exchanges.collab_config import CollaborationConfigBase
from threatexchange.exchanges.fetch_state import SignalOpinion, SignalOpinionCategory
from threatexchange.signal_type.md5 import VideoMD5Signal
from threatexchange.signal_type.pdq.signal import PdqSignal
from threatexchange.utils import dataclass_json
from werkzeug.serving import make_server

from haven.app import create_app
from haven.db import Instance, get_database_identity, get_session
from haven.migrate import upgrade
from takedown import vpdq
from takedown.service import PlatformCredentials, revoke_platform
from tests.conftest import make_settings, require
from tests.factories import bearer, create_platform, random_vpdq, submit_case
from tests.videos import Frame, ffmpeg_available, make_video, match_percent, reference

THREATEXCHANGE = Path(sys.executable).parent / "threatexchange"
PDQ_DATA = Path(__file__).parents[1] / "data" / "pdq"
ORIGINAL = PDQ_DATA / "bridge-mods__aaa-orig.jpg"
UNRELATED = PDQ_DATA / "misc-images__wee.jpg"
COLLAB = "Take It Down"


@dataclass(frozen=True)
class Run:
    """How a CLI run ended. The CLI logs and reports to both streams, so `output` has both."""

    returncode: int
    stdout: str
    output: str


@dataclass
class Cli:
    """The threatexchange CLI with a home and state folder of its own."""

    home: Path
    env: dict[str, str]

    def run(self, *args: str, check: bool = True) -> Run:
        """Run `threatexchange *args`; with `check`, fail the test on a non-zero exit."""
        done = subprocess.run(
            [str(THREATEXCHANGE), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check:
            assert done.returncode == 0, f"{args}: {done.returncode}\n{done.stdout}{done.stderr}"
        return Run(done.returncode, done.stdout, done.stdout + done.stderr)

    def fetch(self, *, check: bool = True) -> Run:
        """`threatexchange -v fetch` (verbose, so that an error's message is printed)."""
        return self.run("-v", "fetch", check=check)

    def matches(self, content: str, path: Path) -> set[str]:
        """The signal types that matched `path` as `content` (photo or video)."""
        out = self.run("match", content, str(path)).stdout
        return {line.split()[0] for line in out.splitlines() if f"({COLLAB})" in line}

    def match_lines(self, content: str, path: Path) -> list[str]:
        """The match command's result lines."""
        return [
            line
            for line in self.run("match", content, str(path)).stdout.splitlines()
            if f"({COLLAB})" in line
        ]

    def checkpoint(self) -> Any:
        """The checkpoint the CLI stored for the Haven collab, or None."""
        files = list((self.home / ".threatexchange").rglob(f"{COLLAB}.state.pickle"))
        if not files:
            return None
        with files[0].open("rb") as f:
            return pickle.load(f).checkpoint  # noqa: S301 - the CLI's own file

    def use(self, base_url: str, key: str) -> None:
        """Point the credentials (environment variable) at a Haven and key."""
        self.env["TX_HAVEN_CREDENTIALS"] = f"{base_url},{key}"


def new_cli(tmp_path: Path, name: str = "cli") -> Cli:
    """A CLI with the extension added and no collab yet."""
    home = tmp_path / name
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TX_")}
    env.update(HOME=str(home), TX_STATEDIR=str(home / ".threatexchange"))
    cli = Cli(home, env)
    cli.run("config", "extensions", "add", "haven_threatexchange")
    return cli


def submit_decoys(client: FlaskClient) -> None:
    """A case of random hashes that match nothing here, so that no index is ever empty.

    Upstream python-threatexchange 1.2.17: a PDQ index holding exactly one hash matches
    nothing once the CLI has saved and reloaded it, and `match` refuses to run with no index
    at all. Real feeds hold many hashes; tests that withdraw everything keep these.
    """
    submit_case(
        client,
        [
            *image(pdq=secrets.token_hex(32), md5=secrets.token_hex(16)),
            *image(pdq=secrets.token_hex(32)),
            {"media": "video", "algorithm": "md5", "value": secrets.token_hex(16)},
        ],
    )


@pytest.fixture
def cli(
    tmp_path: Path, live_server: str, platform: PlatformCredentials, client: FlaskClient
) -> Cli:
    """A CLI with the extension, a `haven` collab, and credentials in the environment; the
    Haven holds a case of decoys."""
    submit_decoys(client)
    cli = new_cli(tmp_path)
    cli.use(live_server, platform.api_key)
    cli.run("config", "collab", "edit", "haven", COLLAB, "--create")
    return cli


def pdq_of(path: Path) -> str:
    """The PDQ hash threatexchange computes for a file."""
    return str(PdqSignal.hash_from_file(path))


def md5_of(path: Path) -> str:
    """A file's MD5."""
    return hashlib.md5(path.read_bytes()).hexdigest()  # noqa: S324 - the feed's algorithm


def flip_bits(pdq: str, count: int) -> str:
    """`pdq` with its lowest `count` bits inverted: at Hamming distance `count`."""
    return f"{int(pdq, 16) ^ ((1 << count) - 1):064x}"


def a_video(tmp_path: Path) -> Path:
    """A file to match as a video."""
    path = tmp_path / f"video-{secrets.token_hex(3)}.mp4"
    path.write_bytes(secrets.token_bytes(4096))
    return path


def image(pdq: str | None = None, md5: str | None = None) -> list[dict[str, Any]]:
    """An image's hashes as the submit page sends them."""
    hashes: list[dict[str, Any]] = []
    if md5:
        hashes.append({"media": "image", "algorithm": "md5", "value": md5})
    if pdq:
        hashes.append({"media": "image", "algorithm": "pdq", "value": pdq, "quality": 90})
    return hashes


def withdraw(client: FlaskClient, case: dict[str, Any]) -> None:
    """Withdraw a case with its PIN."""
    response = client.post(
        f"/api/v1/takedown/cases/{case['case_number']}/withdraw",
        headers={"X-Case-Pin": case["pin"]},
    )
    assert response.status_code == 200, response.json


@contextmanager
def another_haven(tmp_path: Path, sqlite_database: str | None) -> Iterator[tuple[Flask, str]]:
    """A second Haven served on loopback: (app, base URL). On a copy of `sqlite_database`
    (which shares that database's identity, as a restored backup does), or when None, on a
    database migrated afresh (a Haven of its own)."""
    copy = tmp_path / f"other-{secrets.token_hex(3)}.db"
    if sqlite_database is None:
        engine = create_engine(f"sqlite:///{copy}")
        upgrade(engine)
        engine.dispose()
    else:
        shutil.copyfile(make_url(sqlite_database).database or "", copy)
    app = create_app(make_settings(f"sqlite:///{copy}"))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        app.extensions["haven.db"].dispose()


# Additions and withdrawals


def test_fetch_then_match_finds_pdq_image_md5_and_video_md5(
    cli: Cli, client: FlaskClient, tmp_path: Path
) -> None:
    video = a_video(tmp_path)
    submit_case(
        client,
        [
            *image(pdq=pdq_of(ORIGINAL), md5=md5_of(ORIGINAL)),
            {"media": "video", "algorithm": "md5", "value": md5_of(video)},
        ],
    )
    cli.fetch()
    assert cli.matches("photo", ORIGINAL) == {"pdq", "photo_md5"}
    assert cli.matches("video", video) == {"video_md5"}
    assert cli.matches("photo", UNRELATED) == set()


def test_a_withdrawn_case_stops_matching_after_the_next_fetch(
    cli: Cli, client: FlaskClient, tmp_path: Path
) -> None:
    video = a_video(tmp_path)
    case = submit_case(
        client,
        [
            *image(pdq=pdq_of(ORIGINAL), md5=md5_of(ORIGINAL)),
            {"media": "video", "algorithm": "md5", "value": md5_of(video)},
        ],
    )
    cli.fetch()
    assert cli.matches("photo", ORIGINAL) == {"pdq", "photo_md5"}
    assert cli.matches("video", video) == {"video_md5"}
    withdraw(client, case)
    cli.fetch()
    assert cli.matches("photo", ORIGINAL) == set()
    assert cli.matches("video", video) == set()


def test_a_hash_withdrawn_before_the_first_fetch_never_arrives_and_others_do(
    cli: Cli, client: FlaskClient, platform: PlatformCredentials
) -> None:
    gone = submit_case(client, image(md5=md5_of(ORIGINAL)))
    withdraw(client, gone)
    submit_case(client, image(md5=md5_of(UNRELATED)))
    cli.fetch()  # the first fetch reads the export, which holds active hashes only
    assert cli.matches("photo", ORIGINAL) == set()
    assert cli.matches("photo", UNRELATED) == {"photo_md5"}
    last = client.get("/api/v1/feed/hashes", headers=bearer(platform.api_key))
    assert last.status_code == 200
    assert cli.checkpoint().cursor == int(last.headers["Haven-Feed-Last"])


def test_a_hash_submitted_again_after_its_withdrawal_matches_again(
    cli: Cli, client: FlaskClient
) -> None:
    first = submit_case(client, image(md5=md5_of(ORIGINAL)))
    cli.fetch()
    withdraw(client, first)
    submit_case(client, image(md5=md5_of(ORIGINAL)))
    cli.fetch()  # both changes arrive in one poll, in order
    assert cli.matches("photo", ORIGINAL) == {"photo_md5"}


@pytest.mark.parametrize(("distance", "matches"), [(0, True), (31, True), (32, False)])
def test_pdq_matches_within_distance_31_and_not_beyond(
    cli: Cli, client: FlaskClient, distance: int, matches: bool
) -> None:
    submit_case(client, image(pdq=flip_bits(pdq_of(ORIGINAL), distance)))
    cli.fetch()
    lines = cli.match_lines("photo", ORIGINAL)
    if matches:
        assert [line.split()[:2] for line in lines] == [["pdq", str(distance)]]
    else:
        assert lines == []


def test_an_edited_copy_of_a_submitted_image_matches_by_pdq_only(
    cli: Cli, client: FlaskClient
) -> None:
    submit_case(client, image(pdq=pdq_of(ORIGINAL), md5=md5_of(ORIGINAL)))
    cli.fetch()
    edited = PDQ_DATA / "bridge-mods__blur-a-lot.jpg"
    assert cli.matches("photo", edited) == {"pdq"}


# Videos: vPDQ, through threatexchange's own vpdq extension

VIDEO = "h264"  # an original test video (tests/videos.py)
REENCODED = "h264-small"  # the same video re-encoded at another size and bitrate
VPDQ_EXTENSION = "threatexchange.extensions.vpdq.manifest"


def require_vpdq() -> None:
    """Skip, or fail under CI, unless threatexchange's vpdq extension imports (it needs the
    native `vpdq` package and faiss) and ffmpeg can build the test videos."""
    try:
        import threatexchange.extensions.vpdq.vpdq  # noqa: F401
    except ImportError as exc:
        require("vpdq", f"threatexchange's vpdq extension cannot be imported: {exc}")
    if not ffmpeg_available():
        require("ffmpeg", "the test videos are built with ffmpeg")


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The original test video and its re-encoded copy, built by ffmpeg."""
    require_vpdq()
    folder = tmp_path_factory.mktemp("videos")
    return {name: make_video(name, folder) for name in (VIDEO, REENCODED)}


@pytest.fixture
def vpdq_cli(cli: Cli, client: FlaskClient) -> Cli:
    """The CLI with threatexchange's vpdq extension added too; Haven holds a decoy video's
    vPDQ as well, so that the vPDQ index is never empty."""
    require_vpdq()
    cli.run("config", "extensions", "add", VPDQ_EXTENSION)
    submit_case(client, [{"media": "video", "algorithm": "vpdq", "value": random_vpdq(5)}])
    return cli


def browser_vpdq(frames: list[Frame]) -> dict[str, Any]:
    """A video's vPDQ as the submit page sends it (JSON.stringify: no spaces)."""
    value = json.dumps(
        [f"{f.pdq},{f.quality},{f.timestamp:.3f}" for f in frames], separators=(",", ":")
    )
    return {"media": "video", "algorithm": "vpdq", "value": value}


def canonical_digest(frames: list[Frame]) -> str:
    """The value Haven names these frames by: the SHA-256 of their canonical spelling."""
    canonical = json.dumps([f"{f.pdq},{f.quality},{f.timestamp:.3f}" for f in frames])
    return hashlib.sha256(canonical.encode()).hexdigest()


def test_a_reencoded_copy_of_a_submitted_video_matches_by_vpdq_and_not_by_md5(
    videos: dict[str, Path], vpdq_cli: Cli, client: FlaskClient
) -> None:
    original, copy = videos[VIDEO], videos[REENCODED]
    # The premise: Meta's vPDQ of the copy matches the original's by threatexchange's rule.
    assert min(match_percent(reference(REENCODED), reference(VIDEO))) >= 80
    submit_case(
        client,
        [
            {"media": "video", "algorithm": "md5", "value": md5_of(original)},
            browser_vpdq(reference(VIDEO)),  # the original's, as the family's browser sent it
        ],
    )
    vpdq_cli.fetch()
    assert vpdq_cli.matches("video", original) == {"vpdq", "video_md5"}
    # The CLI hashes the copy with vpdq itself: its bytes (so its MD5) differ, its frames not.
    assert md5_of(copy) != md5_of(original)
    assert vpdq_cli.matches("video", copy) == {"vpdq"}


def test_a_withdrawn_video_stops_matching_by_vpdq_after_the_next_fetch(
    videos: dict[str, Path], vpdq_cli: Cli, client: FlaskClient
) -> None:
    case = submit_case(client, [browser_vpdq(reference(VIDEO))])
    vpdq_cli.fetch()
    assert vpdq_cli.matches("video", videos[REENCODED]) == {"vpdq"}
    withdraw(client, case)
    vpdq_cli.fetch()
    assert vpdq_cli.matches("video", videos[REENCODED]) == set()
    assert vpdq_cli.matches("video", videos[VIDEO]) == set()


def test_labelling_a_vpdq_match_in_the_cli_reports_it_to_haven_by_its_digest(
    videos: dict[str, Path],
    vpdq_cli: Cli,
    client: FlaskClient,
    platform: PlatformCredentials,
    tmp_path: Path,
) -> None:
    frames = reference(VIDEO)
    submit_case(client, [browser_vpdq(frames)])
    vpdq_cli.fetch()
    hash_file = tmp_path / "video-hash.txt"
    hash_file.write_text(browser_vpdq(frames)["value"])  # the signal, in any spelling
    vpdq_cli.run("label", "--as-hash", "vpdq", COLLAB, "video", str(hash_file))
    assert own_feedback(client, platform.api_key, "vpdq", canonical_digest(frames)) == {
        "removed": 1
    }


@pytest.mark.parametrize(
    "spelling",
    [
        pytest.param('["{a},100,0.000", "{b},87,1.000"]', id="haven"),
        pytest.param('["{a},100,0.000","{b},87,1.000"]', id="browser"),  # JSON.stringify
        # Upper-case hex, spaces, fewer decimals, a leading zero.
        pytest.param('[ "{A}, 100, 0" ,\n "{b},087,1.0" ]', id="loose"),
    ],
)
def test_the_extension_names_a_vpdq_by_the_digest_haven_gives_it(spelling: str) -> None:
    a, b = secrets.token_hex(32), secrets.token_hex(32)
    signal = spelling.format(a=a, A=a.upper(), b=b)
    canonical = vpdq.canonical_signal(signal, max_frames=3600, min_quality=50)
    assert vpdq_digest(signal) == vpdq.digest(canonical)
    assert vpdq_digest(vpdq.digest(canonical).upper()) == vpdq.digest(canonical)


def test_without_the_native_vpdq_package_vpdq_hashes_are_skipped_saying_so_once(
    cli: Cli, client: FlaskClient, tmp_path: Path
) -> None:
    # A platform without the native package: any `import vpdq` fails, as it would there.
    missing = tmp_path / "without-vpdq"
    missing.mkdir()
    (missing / "vpdq.py").write_text("raise ImportError(\"No module named 'vpdq'\")\n")
    cli.env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(missing), os.environ.get("PYTHONPATH")])
    )
    submit_case(
        client,
        [
            *image(md5=md5_of(ORIGINAL)),
            {"media": "video", "algorithm": "vpdq", "value": random_vpdq(3)},
        ],
    )
    submit_case(client, [{"media": "video", "algorithm": "vpdq", "value": random_vpdq(4)}])
    fetched = cli.fetch()
    assert fetched.output.count("threatexchange's vpdq extension cannot be imported") == 1
    assert "No module named 'vpdq'" in fetched.output
    assert cli.matches("photo", ORIGINAL) == {"photo_md5"}


# Credentials


def test_credentials_in_a_file_in_the_home_folder_work(
    tmp_path: Path, live_server: str, platform: PlatformCredentials, client: FlaskClient
) -> None:
    submit_decoys(client)
    submit_case(client, image(md5=md5_of(ORIGINAL)))
    cli = new_cli(tmp_path)
    (cli.home / ".tx_haven_credentials").write_text(
        json.dumps({"base_url": live_server, "api_key": platform.api_key})
    )
    cli.run("config", "collab", "edit", "haven", COLLAB, "--create")
    cli.fetch()
    assert cli.matches("photo", ORIGINAL) == {"photo_md5"}


def test_hma_style_credential_json_builds_a_working_exchange(
    live_server: str, platform: PlatformCredentials, client: FlaskClient
) -> None:
    case = submit_case(client, image(md5=md5_of(ORIGINAL)))
    credential_json = {"base_url": live_server, "api_key": platform.api_key}
    credentials = dataclass_json.dataclass_load_dict(credential_json, HavenCredentials)
    collab = CollaborationConfigBase(name=COLLAB, api="haven", enabled=True)
    exchange = HavenSignalExchangeAPI.for_collab(collab, credentials)
    deltas = list(exchange.fetch_iter([PhotoMD5Signal], None))
    assert deltas[-1].updates == {
        ("photo_md5", md5_of(ORIGINAL)): deltas[-1].updates[("photo_md5", md5_of(ORIGINAL))]
    }
    withdraw(client, case)
    later = list(exchange.fetch_iter([PhotoMD5Signal], deltas[-1].checkpoint))
    assert later[-1].updates == {("photo_md5", md5_of(ORIGINAL)): None}
    assert (
        dataclass_json.dataclass_loads(
            dataclass_json.dataclass_dumps(later[-1].checkpoint), type(later[-1].checkpoint)
        )
        == later[-1].checkpoint
    )


# Feedback


def own_feedback(client: FlaskClient, key: str, algorithm: str, value: str) -> dict[str, int]:
    """The platform's own feedback on a hash: {outcome: count}."""
    response = client.get(
        "/api/v1/feed/feedback",
        query_string={"algorithm": algorithm, "value": value},
        headers=bearer(key),
    )
    assert response.status_code == 200, response.json
    body: dict[str, Any] = response.get_json()
    return {f["outcome"]: f["count"] for f in body["feedback"]}


def test_labelling_a_match_in_the_cli_reports_it_removed_to_haven(
    cli: Cli, client: FlaskClient, platform: PlatformCredentials, tmp_path: Path
) -> None:
    pdq = pdq_of(ORIGINAL)
    submit_case(client, image(pdq=pdq))
    cli.fetch()
    hash_file = tmp_path / "hash.txt"
    hash_file.write_text(pdq)
    cli.run("label", "--as-hash", "pdq", COLLAB, "photo", str(hash_file))
    assert own_feedback(client, platform.api_key, "pdq", pdq) == {"removed": 1}


def test_every_opinion_and_outcome_reaches_haven(
    live_server: str, client: FlaskClient, platform: PlatformCredentials, tmp_path: Path
) -> None:
    md5 = md5_of(ORIGINAL)
    video = md5_of(a_video(tmp_path))
    submit_case(client, [*image(md5=md5), {"media": "video", "algorithm": "md5", "value": video}])
    exchange = HavenSignalExchangeAPI.for_collab(
        CollaborationConfigBase(name=COLLAB, api="haven", enabled=True),
        HavenCredentials(base_url=live_server, api_key=platform.api_key),
    )
    seen = []
    for category in SignalOpinionCategory:
        exchange.report_opinion(PhotoMD5Signal, md5.upper(), SignalOpinion(True, category, set()))
        # One report per platform and hash: each opinion replaces the one before it.
        seen.append(own_feedback(client, platform.api_key, "md5", md5))
    exchange.report_outcome(VideoMD5Signal, video, "unable_to_action", count=3)
    assert all(len(mine) == 1 for mine in seen)
    assert {outcome for mine in seen for outcome in mine} == {
        "matched",
        "removed",
        "not_violating",
    }
    assert own_feedback(client, platform.api_key, "md5", video) == {"unable_to_action": 3}


# Bad input: a clear message, and the checkpoint left as it was


def test_a_revoked_key_stops_the_fetch_with_a_clear_message(
    cli: Cli, app: Flask, client: FlaskClient, platform: PlatformCredentials
) -> None:
    submit_case(client, image(md5=md5_of(ORIGINAL)))
    cli.fetch()
    before = cli.checkpoint()
    with app.app_context():
        revoke_platform(session=get_session(), name=platform.name)
    submit_case(client, image(md5=md5_of(UNRELATED)))
    failed = cli.fetch(check=False)
    assert failed.returncode == 3
    assert "HavenAuthError" in failed.output
    assert "refused the platform key: it is unknown or has been revoked" in failed.output
    assert cli.checkpoint() == before
    assert cli.matches("photo", ORIGINAL) == {"photo_md5"}


@pytest.mark.parametrize(
    ("base_url", "message"),
    [
        ("http://127.0.0.1:9", "Could not reach Haven at http://127.0.0.1:9"),
        ("{live}/not-haven", "is not a Haven's base URL"),
        ("{live}/api/v1", "is not a Haven's base URL"),
    ],
)
def test_a_bad_base_url_stops_the_fetch_with_a_clear_message(
    cli: Cli,
    client: FlaskClient,
    live_server: str,
    platform: PlatformCredentials,
    base_url: str,
    message: str,
) -> None:
    submit_case(client, image(md5=md5_of(ORIGINAL)))
    cli.fetch()
    before = cli.checkpoint()
    cli.use(base_url.format(live=live_server), platform.api_key)
    failed = cli.fetch(check=False)
    assert failed.returncode == 3
    assert "HavenUnreachable" in failed.output
    assert message in failed.output
    assert cli.checkpoint() == before


def test_a_base_url_that_is_not_a_url_is_refused_as_invalid_credentials(
    cli: Cli, platform: PlatformCredentials
) -> None:
    cli.use("haven.example.org", platform.api_key)
    failed = cli.fetch(check=False)
    assert failed.returncode != 0
    assert "Invalid auth for haven" in failed.output
    assert "TX_HAVEN_CREDENTIALS" in failed.output
    assert cli.checkpoint() is None


def test_a_cursor_from_another_haven_stops_the_fetch_with_a_clear_message(
    cli: Cli, client: FlaskClient, tmp_path: Path
) -> None:
    submit_case(client, image(md5=md5_of(ORIGINAL)))
    cli.fetch()
    before = cli.checkpoint()
    with another_haven(tmp_path, None) as (other, other_url):
        elsewhere = create_platform(other, "Elsewhere")
        submit_case(other.test_client(), image(md5=md5_of(UNRELATED)))
        cli.use(other_url, elsewhere.api_key)
        failed = cli.fetch(check=False)
    assert failed.returncode == 3
    assert "HavenCursorMismatch" in failed.output
    assert "was issued by another Haven" in failed.output
    assert cli.checkpoint() == before
    assert cli.matches("photo", ORIGINAL) == {"photo_md5"}
    assert cli.matches("photo", UNRELATED) == set()


def test_a_feed_restored_to_an_earlier_point_stops_the_fetch_with_a_clear_message(
    cli: Cli, app: Flask, client: FlaskClient, tmp_path: Path, sqlite_database: str
) -> None:
    for _ in range(3):
        submit_case(client, image(md5=secrets.token_hex(16)))
    cli.fetch()
    before = cli.checkpoint()
    assert before.cursor >= 3
    with app.app_context():
        identity = get_database_identity(get_session())
    # The same Haven, restored from a backup taken before any case: same identity, shorter feed.
    with another_haven(tmp_path, sqlite_database) as (restored, restored_url):
        with restored.app_context():
            session = get_session()
            session.execute(update(Instance).values(id=identity))
            session.commit()
        key = create_platform(restored, "Example Platform").api_key
        submit_case(restored.test_client(), image(md5=md5_of(UNRELATED)))
        cli.use(restored_url, key)
        failed = cli.fetch(check=False)
    assert failed.returncode == 3
    assert "HavenFeedWentBackwards" in failed.output
    assert f"before the stored cursor {before.cursor}: it went backwards" in failed.output
    assert cli.checkpoint() == before


# Why the extension exists


def test_stock_stopncii_exchange_keeps_withdrawn_hashes_which_is_why_the_extension_exists(
    tmp_path: Path, live_server: str, platform: PlatformCredentials, client: FlaskClient
) -> None:
    submit_decoys(client)
    case = submit_case(client, image(pdq=pdq_of(ORIGINAL), md5=md5_of(ORIGINAL)))
    stock = new_cli(tmp_path, "stock")
    stock.env["TX_STOPNCII_KEYS"] = (
        f"{platform.stopncii_fetch_function_key},{platform.stopncii_subscription_key},"
        f"{live_server}/stopncii/v1"
    )
    stock.run("config", "collab", "edit", "stop_ncii", COLLAB, "--create")
    stock.fetch()
    # The StopNCII protocol has no image MD5 type, so only the PDQ hash arrives.
    assert stock.matches("photo", ORIGINAL) == {"pdq"}
    withdraw(client, case)
    stock.fetch()
    # Upstream bug (1.2.17 _get_delta_mapping compares hashValue, not hashStatus): still there.
    assert stock.matches("photo", ORIGINAL) == {"pdq"}
    status = requests.get(
        f"{live_server}/api/v1/feed/hashes",
        headers=bearer(platform.api_key),
        timeout=10,
    ).json()
    assert [c["status"] for c in status["changes"] if c["value"] == pdq_of(ORIGINAL)] == [
        "active",
        "withdrawn",
    ]


def test_feed_answers_name_their_haven_and_its_last_cursor(
    app: Flask, client: FlaskClient, platform: PlatformCredentials
) -> None:
    submit_case(client, image(md5=md5_of(ORIGINAL)))
    with app.app_context():
        identity = get_database_identity(get_session())
    for path in ("/api/v1/feed/hashes?after=0&limit=1", "/api/v1/feed/hashes/export"):
        response = client.get(path, headers=bearer(platform.api_key))
        assert response.headers["Haven-Instance"] == identity
        assert response.headers["Haven-Feed-Last"] == "1"
    refused = client.get("/api/v1/feed/hashes", headers=bearer("hvp_unknown"))
    assert "Haven-Instance" not in refused.headers
