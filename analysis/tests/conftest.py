import json

import matplotlib
import pytest

matplotlib.use("Agg")

from analysis.load import load_results  # noqa: E402
from analysis.tests import synthetic  # noqa: E402


@pytest.fixture
def small_doc():
    """2 workloads x 2 allocators x threads 1,2 x 2 reps, one failed cell."""
    return synthetic.sweep(workloads=("larson", "prodcons"), allocators=("halloc", "glibc"),
                           threads=(1, 2), reps=2, fail={("larson", "glibc", 2)})


@pytest.fixture
def run_dir(tmp_path, small_doc):
    d = tmp_path / "20261126-041000"
    synthetic.write(small_doc, d / "run.json")
    return d


@pytest.fixture
def df(run_dir):
    return load_results([run_dir])


@pytest.fixture
def write_json(tmp_path):
    def _write(obj, name="run.json", raw=None):
        p = tmp_path / name
        p.write_text(raw if raw is not None else json.dumps(obj))
        return p
    return _write
