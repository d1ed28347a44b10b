"""The beets plugin (src/beetsplug/mer.py) driven through real beets' `beet` command on real 4Q clips.

A temporary library: ``beet import -A`` (as-is, no network) analyses on import and writes
the mood into the copied files; ``beet ls`` queries the attributes (``mood:calm``, a numeric
range on ``mer_valence``); a re-run does no work; a broken file is a one-line error and the
run goes on.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("beets")

ROOT = Path(__file__).resolve().parents[1]
FIELDS = "$path|$mer_quadrant|$mood|$mer_valence|$mer_arousal|$mer_model"

pytestmark = [pytest.mark.real_data, pytest.mark.slow]


@pytest.fixture()
def beet(tmp_path, fourq_dir, isolated_cache):
    """`beet(*args)` -> the finished process, on a fresh library: a clip of Q1, Q3 and Q4, and a broken file."""
    src = tmp_path / "incoming"
    src.mkdir()
    for q in ("Q1", "Q3", "Q4"):
        shutil.copy(sorted((fourq_dir / q).glob("*.mp3"))[0], src / f"{q}.mp3")
    (src / "broken.mp3").write_bytes(b"not audio at all\n")
    (tmp_path / "config.yaml").write_text(
        f"directory: {tmp_path / 'music'}\nlibrary: {tmp_path / 'library.db'}\nplugins: mer\n"
        "import:\n  write: yes\n  copy: yes\nmer:\n  threads: 1\n")
    env = {**os.environ, "BEETSDIR": str(tmp_path), "MER_CACHE": str(isolated_cache),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}

    def run(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "beets", "-c", str(tmp_path / "config.yaml"), *args],
                              env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        return done

    run.src = src
    return run


def _rows(done: subprocess.CompletedProcess) -> dict[str, list[str]]:
    return {line.split("|")[0]: line.split("|")[1:] for line in done.stdout.splitlines() if "|" in line}


def test_import_analyses_queries_writes_and_reruns_do_no_work(beet):
    beet("import", "-A", "-q", str(beet.src))
    rows = _rows(beet("ls", "-f", FIELDS))
    assert len(rows) == 3  # the broken file is not a track beets imports
    moods = {"Q1": "happy", "Q2": "tense", "Q3": "sad", "Q4": "calm"}
    for path, (quadrant, mood, valence, arousal, model) in rows.items():
        assert mood == moods[quadrant] and -1 <= float(valence) <= 1 and -1 <= float(arousal) <= 1
        assert model.startswith("recipe") and "@" in model

    # Queries: a mood word, a numeric range (item_types makes mer_valence a float field).
    calm = set(_rows(beet("ls", "-f", FIELDS, "mood:calm")))
    assert calm == {p for p, r in rows.items() if r[1] == "calm"}
    positive = set(_rows(beet("ls", "-f", FIELDS, "mer_valence:0.2..")))
    assert positive == {p for p, r in rows.items() if float(r[2]) >= 0.2}

    # The mood is in the files (ID3 TMOO), written through beets' write path.
    from mutagen.id3 import ID3

    for path, row in rows.items():
        assert str(ID3(path)["TMOO"]) == row[1]

    # A re-run does no work: nothing analysed, no file touched.
    stamps = {p: os.stat(p).st_mtime_ns for p in rows}
    again = beet("mer")
    assert "analysed 0, already analysed with" in again.stderr and ": 3, failed 0" in again.stderr
    assert {p: os.stat(p).st_mtime_ns for p in rows} == stamps

    # A file that went bad: one line naming it, the others analysed again (--force), exit 0.
    bad = sorted(rows)[0]
    Path(bad).write_bytes(b"not audio at all\n")
    forced = beet("mer", "--force")
    errors = [line for line in forced.stderr.splitlines() if bad in line]
    assert len(errors) == 1 and "cannot decode" in errors[0], forced.stderr
    assert "analysed 2," in forced.stderr and "failed 1" in forced.stderr
