"""The markers ``make test-fast`` relies on are complete: a test that reads the data unmarked fails.

Each case runs a one-test session with a copy of ``tests/conftest.py`` whose data root
(``MER_DATA``) is an empty temporary folder, so nothing here reads ../shared/data.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = (Path(__file__).parent / "conftest.py").read_text()


@pytest.fixture
def data_root(pytester, monkeypatch, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fake-shared-data")
    monkeypatch.setenv("MER_DATA", str(root))
    return root


def _run(pytester, body: str):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_probe=body)
    pytester.makeini("[pytest]\nmarkers =\n    real_data: reads data\n    slow: slow\n")
    return pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider")


def test_unmarked_fixture_user_fails(pytester, data_root):
    r = _run(pytester, "def test_a(fourq_dir):\n    pass\n")
    r.assert_outcomes(errors=1)
    r.stdout.fnmatch_lines(["*uses fourq_dir (../shared/data) but is not marked real_data*"])


def test_marked_fixture_user_skips_cleanly(pytester, data_root):
    r = _run(pytester, "import pytest\n\n@pytest.mark.real_data\ndef test_a(fourq_dir):\n    pass\n")
    r.assert_outcomes(skipped=1)


@pytest.mark.parametrize("read", ["os.listdir(ROOT)", "open(os.path.join(ROOT, 'x.csv'), 'w').close()",
                                  "sorted(pathlib.Path(ROOT).glob('*.mp3'))",
                                  "subprocess.run(['true', os.path.join(ROOT, 'a.mp3')])"])
def test_unmarked_direct_read_fails(pytester, data_root, read):
    body = f"import os, pathlib, subprocess\nROOT = {str(data_root)!r}\n\ndef test_a():\n    {read}\n"
    r = _run(pytester, body)
    r.assert_outcomes(failed=1)
    r.stdout.fnmatch_lines(["*reads ../shared/data during the test*but is not marked real_data*"])
    marked = body.replace("def test_a", "import pytest\n\n@pytest.mark.real_data\ndef test_a")
    _run(pytester, marked).assert_outcomes(passed=1)


def test_unmarked_read_elsewhere_passes(pytester, data_root, tmp_path):
    r = _run(pytester, f"import os\n\ndef test_a():\n    os.listdir({str(tmp_path)!r})\n")
    r.assert_outcomes(passed=1)
