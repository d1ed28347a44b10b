from collections import Counter

import numpy as np
import pytest

from mer.core.labels import QUADRANTS
from mer.data import datasets
from mer.core.errors import MerError
from tests.conftest import write_tone


@pytest.mark.real_data
def test_real_4q_layout(fourq_dir):
    ds = datasets.load(fourq_dir)
    assert len(ds) == 540 and ds.counts() == {"Q1": 135, "Q2": 135, "Q3": 135, "Q4": 135}
    # label from the annotations agrees with the folder for every clip loaded
    assert all(c.path.parent.name == c.label for c in ds)
    # group = artist: some artists have several clips, and they share one group
    sizes = Counter(ds.groups)
    assert 350 < ds.n_groups() < 540 and max(sizes.values()) >= 4
    assert sizes["jimmy reed"] >= 2
    assert set(ds.y) == {0, 1, 2, 3}


def _fake_4q(root, annotations, metadata=None):
    for q in QUADRANTS:
        (root / q).mkdir(parents=True)
    (root / "panda_dataset_taffc_annotations.csv").write_text("Song,Quadrant\n" + "".join(f"{s},{q}\n" for s, q in annotations))
    if metadata is not None:
        rows = "".join(f'"{s}","{a}","t","Q1"\n' for s, a in metadata)
        (root / "panda_dataset_taffc_metadata.csv").write_text('"Song","Artist","Title","Quadrant"\n' + rows)


def test_4q_layout_checks_folders_against_annotations(tmp_path):
    _fake_4q(tmp_path, [("A1", "Q1"), ("A2", "Q2"), ("A3", "Q3"), ("B1", "Q1")],
             [("A1", "Ann"), ("A2", " ann "), ("A3", "Bob"), ("B1", "Cy")])
    write_tone(tmp_path / "Q1" / "A1.wav")
    write_tone(tmp_path / "Q2" / "A2.wav")
    write_tone(tmp_path / "Q4" / "A3.wav")  # annotated Q3, stored under Q4
    write_tone(tmp_path / "Q1" / "ZZ.wav")  # no annotation
    (tmp_path / "Q1" / "notes.txt").write_text("x")
    ds = datasets.load(tmp_path)
    assert [c.id for c in ds] == ["A1", "A2"]
    assert ds.groups.tolist() == ["ann", "ann"]  # artist names normalised
    text = "\n".join(ds.problems)
    assert "annotated Q3 but stored under Q4" in text and "ZZ.wav: no annotation" in text and "notes.txt" in text


def test_4q_layout_without_metadata_makes_each_clip_its_own_group(tmp_path):
    _fake_4q(tmp_path, [("A1", "Q1"), ("A2", "Q1")])
    write_tone(tmp_path / "Q1" / "A1.wav")
    write_tone(tmp_path / "Q1" / "A2.wav")
    ds = datasets.load(tmp_path)
    assert ds.n_groups() == 2 and any("metadata" in p for p in ds.problems)


def test_4q_malformed_annotations(tmp_path):
    _fake_4q(tmp_path, [])
    (tmp_path / "panda_dataset_taffc_annotations.csv").write_text("Name;Label\nA;Q1\n")
    with pytest.raises(MerError, match="annotations.csv: expected columns Song,Quadrant"):
        datasets.load(tmp_path)


def test_label_folders_with_mood_words(tmp_path):
    for name in ("Happy", "angry", "Q3", "calm"):
        (tmp_path / name).mkdir()
        write_tone(tmp_path / name / "a.wav")
        write_tone(tmp_path / name / "b.flac")
    (tmp_path / "empty-folder").mkdir()  # no audio: ignored
    ds = datasets.load(tmp_path)
    assert ds.counts() == {"Q1": 2, "Q2": 2, "Q3": 2, "Q4": 2}
    assert ds.n_groups() == 8


def test_unknown_label_folders_are_listed(tmp_path):
    for name in ("happy", "jazz", "metal"):
        (tmp_path / name).mkdir()
        write_tone(tmp_path / name / "a.wav")
    with pytest.raises(MerError, match="unknown label folder\\(s\\): jazz, metal"):
        datasets.load(tmp_path)


def test_csv_manifest(tmp_path):
    a = write_tone(tmp_path / "a.wav")
    write_tone(tmp_path / "b.wav")
    (tmp_path / "m.csv").write_text(f"path,label,group\na.wav,Q1,s1\n{a.parent / 'b.wav'},sad,s1\nmissing.wav,Q2,s2\n\n")
    ds = datasets.load(tmp_path / "m.csv")
    assert [c.label for c in ds] == ["Q1", "Q3"] and ds.n_groups() == 1
    assert "missing.wav" in ds.problems[0] and "line 4" in ds.problems[0]


def test_csv_manifest_without_groups_makes_each_clip_its_own(tmp_path):
    write_tone(tmp_path / "a.wav")
    write_tone(tmp_path / "b.wav")
    (tmp_path / "m.csv").write_text("path,label\na.wav,Q1\nb.wav,Q1\n")
    assert datasets.load(tmp_path / "m.csv").n_groups() == 2


@pytest.mark.parametrize(
    "content,message",
    [
        ("file,mood\na.wav,Q1\n", "header must start with path,label"),
        ("path,label\na.wav,jazzy\n", "line 2: unknown label 'jazzy'"),
        ("path,label\na.wav\n", "line 2: expected path,label"),
        ("path,label\na.wav,Q1\na.wav,Q1\n", "listed more than once"),
        ("", "header must start with path,label"),
    ],
)
def test_malformed_manifests(tmp_path, content, message):
    write_tone(tmp_path / "a.wav")
    (tmp_path / "m.csv").write_text(content)
    with pytest.raises(MerError, match=message) as exc:
        datasets.load(tmp_path / "m.csv")
    assert "m.csv" in str(exc.value)


def test_missing_and_wrong_sources(tmp_path):
    with pytest.raises(MerError, match="dataset not found"):
        datasets.load(tmp_path / "nope")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(MerError, match="CSV manifest"):
        datasets.load(tmp_path / "x.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MerError, match="no label folders"):
        datasets.load(tmp_path / "empty")


def test_synthetic_dataset(synthetic_set):
    ds = synthetic_set
    assert ds.counts() == {"Q1": 8, "Q2": 8, "Q3": 8, "Q4": 8}
    assert all(c.path.is_file() for c in ds)
    # two sections per song, one group per song
    assert ds.n_groups() == 16 and set(Counter(ds.groups).values()) == {2}


def test_synthetic_options_are_parsed(tmp_path):
    ds = datasets.load("synthetic:n=4,seed=3,duration=3.0", cache_dir=tmp_path)
    assert len(ds) == 16 and "s3" in ds.name
    with pytest.raises(MerError, match="bad synthetic option"):
        datasets.load("synthetic:n=lots", cache_dir=tmp_path)


def test_subset_keeps_labels():
    clips = [datasets.Clip(p, q, "g", str(i)) for i, (p, q) in enumerate([("a", "Q1"), ("b", "Q4")])]
    ds = datasets.Dataset("d", clips)
    assert ds.subset([1]).y.tolist() == [3]
    np.testing.assert_array_equal(ds.ids, ["0", "1"])
