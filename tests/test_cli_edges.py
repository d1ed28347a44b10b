"""The command line as a new user meets it: help texts, tables, summaries, exit codes, interrupts.

Each test is one rough edge of issue 24, checked on its output (before the fix it failed).
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from mer.apps.cli import app
from mer.apps.render import model_card, predictions_table, quadrant_text, timeline_summary
from mer.library.db import open_library
from tests.conftest import write_tone

runner = CliRunner()



def _commands() -> list[str]:
    import typer

    return sorted(typer.main.get_command(app).commands)


def _render(renderable, width: int) -> str:
    from rich.console import Console

    console = Console(width=width, record=True, file=open("/dev/null", "w"), color_system=None)
    console.print(renderable)
    return console.export_text()


# --------------------------------------------------------------------------- help


@pytest.mark.parametrize("command", _commands())
def test_help_has_plain_metavars_and_no_type_placeholders(command, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    r = runner.invoke(app, [command, "--help"])
    assert r.exit_code == 0, r.output
    assert not re.search(r"<(bool|str|int|float|path|list\[\w+\])[^>]*>", r.output), r.output
    assert "{" not in r.output.splitlines()[1], r.output  # the usage line names arguments as FILES...


def test_help_paragraphs_are_reflowed_not_broken_where_the_source_breaks(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    r = runner.invoke(app, ["predict", "--help"])
    assert "Usage: mer predict [OPTIONS] FILES..." in r.output
    # the docstring breaks after "a flagged file"; on a wide terminal the sentence is one line
    assert "a flagged file still counts as predicted (exit code 0)" in r.output, r.output
    r = runner.invoke(app, ["--help"])
    assert "<bool>" not in r.output and "--help" in r.output


# --------------------------------------------------------------------------- tables


def _prediction(path, quadrant, probs, flags=()):
    return SimpleNamespace(path=path, quadrant=quadrant, probabilities=probs, valence=0.25, arousal=-0.5,
                           flags=list(flags), quality=None)


def test_predictions_table_shows_every_probability_and_the_quadrants_word(tmp_path):
    probs = {"Q1": 0.1, "Q2": 0.05, "Q3": 0.2, "Q4": 0.65}
    preds = [_prediction(tmp_path / "a_long_file_name_of_a_song.mp3", "Q4", probs),
             _prediction(tmp_path / "b.mp3", None, None, ["silent"])]
    narrow = _render(predictions_table(preds, ["Q1", "Q2", "Q3", "Q4"], title="t", width=80), 80)
    assert "% Q1  Q2  Q3  Q4" in narrow and "10   5  20  65" in narrow and "Q4 calm" in narrow
    assert "silent" in narrow and narrow.count(" - ") >= 1  # the silent file: no quadrant, no probabilities
    two = [preds[0], _prediction(tmp_path / "c.mp3", "Q1", probs)]
    alone = _render(predictions_table(two, ["Q1", "Q2", "Q3", "Q4"], title="t", width=80), 80)
    assert "a_long_file_name_of_a_song.mp3" in alone  # whole at 80 columns
    wide = _render(predictions_table(preds, ["Q1", "Q2", "Q3", "Q4"], title="t", width=200), 200)
    assert all(f"{v:.3f}" in wide for v in probs.values()) and "Q4 calm" in wide
    assert [quadrant_text(q) for q in ("Q1", "Q2", "Q3", "Q4", None)] == ["Q1 happy", "Q2 tense", "Q3 sad",
                                                                          "Q4 calm", "-"]


def test_timeline_summary_names_the_dominant_quadrant_shares_and_sections():
    tl = {"summary": {"duration_s": 95.0, "dominant_quadrant": "Q4",
                      "quadrant_share": {"Q1": 0.25, "Q2": 0.0, "Q3": 0.0, "Q4": 0.75},
                      "valence": {"mean": 0.31}, "arousal": {"mean": -0.12}},
          "sections": [{"start_s": 0.0, "quadrant": "Q4"}, {"start_s": 61.0, "quadrant": "Q1"},
                       {"start_s": 80.0, "quadrant": "Q4"}]}
    line = timeline_summary(tl)
    assert line == ("1:35, mostly Q4 calm (75%; Q1 happy 25%); 3 section(s): 0:00 Q4, 1:01 Q1, 1:20 Q4; "
                    "valence +0.31, arousal -0.12 (means)")
    silent = {"summary": {"duration_s": 5.0, "dominant_quadrant": None, "quadrant_share": {}}, "sections": []}
    assert timeline_summary(silent) == "0:05, silent throughout: no quadrant"


def test_model_card_has_no_python_reprs():
    manifest = {"name": "m", "kind": "recipe", "labels": ["Q1", "Q2"],
                "metadata": {"data": "d", "cv": {"macro_f1": "0.7 ± 0.1", "per_quadrant_f1": {"Q1": 0.8, "Q2": 0.6},
                                                 "4q_only_model": {"macro_f1": "0.6"}},
                             "versions": {"mer": "0.1"}}}
    rows = dict(model_card(manifest))
    assert rows["CV per quadrant F1"] == "Q1 0.8; Q2 0.6" and rows["CV 4Q only model"] == "macro F1 0.6"
    r = runner.invoke(app, ["model-info"])  # the shipped model's card
    assert r.exit_code == 0 and "CV macro F1" in r.output
    assert not re.search(r"[{}]|'\w+':", r.output), r.output


# --------------------------------------------------------------------------- mer ls


def _library(path, rows):
    base = {"status": "ok", "model": "m@0", "flags": [], "analysed_at": "2026-01-01T00:00:00Z"}
    with open_library(path) as lib:
        lib.record([(p, 1, 1, {**base, **r, "content_hash": f"h{i}"}, None) for i, (p, r) in enumerate(rows)])
    return path


def test_ls_at_80_columns_keeps_names_readable_and_shows_artist_and_title(tmp_path, monkeypatch):
    name = "Some Artist - A Rather Long Album Name - 07 - A Very Long Track Title Indeed.flac"
    db = _library(tmp_path / "lib.db", [
        (f"/music/{name}", {"quadrant": "Q4", "valence": 0.4, "arousal": -0.3, "tempo_bpm": 90.0,
                            "artist": "Some Artist", "title": "Night Drive"}),
        ("/music/plain.mp3", {"quadrant": "Q1", "valence": 0.5, "arousal": 0.5, "tempo_bpm": 128.0})])
    monkeypatch.setenv("COLUMNS", "80")
    r = runner.invoke(app, ["ls", "--db", str(db)])
    assert r.exit_code == 0, r.output
    assert "Some Artist – Night Drive" in r.output and "Q4 calm" in r.output and "Q1 happy" in r.output
    assert "flags" not in r.output and "status" not in r.output  # no empty columns
    name_lines = [line for line in r.output.splitlines() if any(w in line for w in ("Album", "Track", "Indeed"))]
    assert len(name_lines) <= 3, r.output  # the name folds over at most 3 lines at 80 columns


def test_ls_refuses_an_unknown_flag(tmp_path):
    db = _library(tmp_path / "lib.db", [("/music/a.mp3", {"quadrant": "Q1", "flags": ["clipped"]})])
    r = runner.invoke(app, ["ls", "--db", str(db), "--flag", "bogus"])
    assert r.exit_code == 1 and "unknown flag bogus" in r.output and "clipped" in r.output
    r = runner.invoke(app, ["ls", "--db", str(db), "--no-flag", "clipd"])
    assert r.exit_code == 1 and "unknown flag clipd" in r.output
    r = runner.invoke(app, ["ls", "--db", str(db), "--flag", "clipped"])
    assert r.exit_code == 0 and "a.mp3" in r.output and "clipped" in r.output


# --------------------------------------------------------------------------- exit codes


def test_predict_where_every_file_fails_exits_1_without_an_empty_table(tmp_path):
    r = runner.invoke(app, ["predict", str(tmp_path / "missing.wav"), "-q"])
    assert r.exit_code == 1, r.output
    assert "missing.wav" in r.output and "no result: all 1 file(s) failed" in r.output
    assert "┏" not in r.output and "file" not in r.stdout  # no empty table


def test_timeline_where_every_file_fails_exits_1(tmp_path):
    (tmp_path / "junk.mp3").write_bytes(b"junk")
    r = runner.invoke(app, ["timeline", str(tmp_path / "junk.mp3"), "-o", str(tmp_path), "-q"])
    assert r.exit_code == 1 and "no result: all 1 file(s) failed" in r.output, r.output


def test_rescan_says_what_failed_earlier_and_interrupt_counts_committed_files(tmp_path, monkeypatch):
    from mer.core import parallel
    from mer.library import scan as scan_module

    for i in range(2):
        write_tone(tmp_path / f"t{i}.wav", seconds=0.5, freq=300.0 + 100 * i)
    db = tmp_path / "lib.db"
    failed = {"status": "failed", "error": "decoder said no", "analysed_at": "2026-01-01T00:00:00Z"}

    def one_then_interrupt(groups, **kwargs):
        digest = next(iter(groups))
        yield digest, failed, None  # committed by the scan
        raise parallel.Interrupted(0, 1)  # the counts of the second file's own extraction

    monkeypatch.setattr(scan_module, "_analyses", one_then_interrupt)
    r = runner.invoke(app, ["scan", str(tmp_path), "--db", str(db), "-q"])
    assert r.exit_code == 130 and "interrupted: 1 of 2 done" in r.output, r.output

    def all_fail(groups, **kwargs):
        for digest in groups:
            yield digest, failed, None

    monkeypatch.setattr(scan_module, "_analyses", all_fail)
    r = runner.invoke(app, ["scan", str(tmp_path), "--db", str(db), "-q"])
    assert r.exit_code == 1 and "no result: all 2 file(s) failed" in r.output, r.output
    r = runner.invoke(app, ["scan", str(tmp_path), "--db", str(db), "-q"])  # nothing changed
    assert "2 without a result (0 failed now, 2 failed in an earlier scan and unchanged)" in r.output, r.output
    assert r.exit_code == 1
