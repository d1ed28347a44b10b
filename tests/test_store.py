import numpy as np
import pytest

from mer.core.errors import MerError
from mer.extraction.store import DATA_FILE, META_FILE, FeatureStore, store_from_extraction, write_store


def _clips(n=12, n_rows=204, seed=0):
    rng = np.random.default_rng(seed)
    return [(f"c{i}", rng.standard_normal((n_rows, int(rng.integers(5, 60)))).astype(np.float32),
             f"Q{i % 4 + 1}", f"artist{i // 3}") for i in range(n)]


def test_round_trip_as_a_sequence(tmp_path):
    clips = _clips()
    store = write_store(tmp_path / "s", iter(clips))  # a generator: consumed once
    assert len(store) == 12 and store.n_rows == 204
    for (cid, X, lab, grp), Y in zip(clips, store):
        np.testing.assert_array_equal(Y, X)
    assert store.ids.tolist() == [c[0] for c in clips]
    assert store.labels.tolist() == [c[2] for c in clips] and store.groups[4] == "artist1"
    assert store.n_frames.tolist() == [c[1].shape[1] for c in clips]
    np.testing.assert_array_equal(store[-1], clips[-1][1])
    assert [x.shape for x in store[2:5]] == [c[1].shape for c in clips[2:5]]
    assert len(store[np.array([0, 3])]) == 2
    with pytest.raises(IndexError):
        store[12]
    v = store.view(3)
    assert not v.flags.writeable and np.shares_memory(v, store.view(3))
    assert store.nbytes > sum(c[1].nbytes for c in clips)
    store.close()


def test_reopened_store_and_empty_store(tmp_path):
    write_store(tmp_path / "s", _clips(3))
    with FeatureStore(tmp_path / "s") as again:
        assert len(again) == 3 and again.config.n_fft == 2048
    empty = write_store(tmp_path / "e", [])
    assert len(empty) == 0 and list(empty) == []


def test_incomplete_or_damaged_stores_are_refused(tmp_path):
    root = tmp_path / "s"
    write_store(root, _clips(4))
    data = (root / DATA_FILE).read_bytes()
    (root / DATA_FILE).write_bytes(data[:-8])
    with pytest.raises(MerError, match="index says"):
        FeatureStore(root)
    (root / META_FILE).unlink()
    with pytest.raises(MerError, match="not a complete feature store"):
        FeatureStore(root)


def test_a_failed_build_leaves_no_store(tmp_path):
    def clips():
        yield from _clips(2)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_store(tmp_path / "s", clips())
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == []
    with pytest.raises(MerError):
        FeatureStore(tmp_path / "s")


def test_mismatched_rows_are_an_error(tmp_path):
    clips = _clips(2) + [("bad", np.zeros((10, 5), np.float32), "Q1", "a")]
    with pytest.raises(MerError, match="clip bad"):
        write_store(tmp_path / "s", clips)


@pytest.mark.slow  # measured over 10 s (issue 24, --durations on 2 busy cores)
def test_store_of_an_extracted_dataset_trains_a_model(synthetic_set, tmp_path):
    from mer.extraction.batch import extract_dataset
    from mer.models.sequence import SequenceClassifier

    res = extract_dataset(synthetic_set, progress=False)
    store = store_from_extraction(tmp_path / "s", synthetic_set, res)
    assert len(store) == int(res.ok.sum()) == len(synthetic_set)
    assert store.labels.tolist() == [c.label for c in synthetic_set.clips]
    np.testing.assert_array_equal(store[5], res.features[5])
    clf = SequenceClassifier(arch="gru", hidden_size=16, epochs=1, pool=8, val_fraction=0, progress=False)
    clf.fit(store, store.labels, groups=store.groups)
    assert clf.predict(store).shape == (len(store),)
