import math

import numpy as np
import pytest

from analysis import stats as ST


def test_quartiles_by_hand():
    assert ST.quartiles([1, 2, 3, 4, 5]) == (2.0, 3.0, 4.0)
    assert ST.quartiles([10.0, float("nan"), 30.0]) == (15.0, 20.0, 25.0)
    assert all(math.isnan(v) for v in ST.quartiles([]))


def test_geometric_mean_along_matches_the_scalar_one():
    a = np.array([[1.0, 0.5, 2.0], [4.0, 0.0, np.nan], [0.25, 2.0, 8.0]])
    got = ST.geometric_mean_along(a, axis=0)
    want = [ST.geometric_mean(a[:, j]) for j in range(3)]
    assert got == pytest.approx(want)
    assert got[1] == 0.0


def test_bootstrap_medians_stay_within_the_sample_and_are_deterministic():
    v = [90.0, 100.0, 130.0]
    m1 = ST.bootstrap_medians(v, 500, np.random.default_rng(1))
    m2 = ST.bootstrap_medians(v, 500, np.random.default_rng(1))
    assert (m1 == m2).all()
    assert set(np.unique(m1)) <= {90.0, 100.0, 130.0}
    assert (ST.bootstrap_medians([7.0], 10, np.random.default_rng(1)) == 7.0).all()


def test_interval_is_the_central_95_percent():
    lo, hi = ST.interval(np.arange(1001, dtype=float))
    assert lo == pytest.approx(25.0) and hi == pytest.approx(975.0)
    assert all(math.isnan(x) for x in ST.interval([np.nan]))


def test_relative_array_with_failures_and_a_bootstrap_axis():
    med = np.array([[100.0, 50.0, np.nan],    # cell 1: c failed
                    [100.0, 200.0, 100.0],    # cell 2
                    [np.nan, np.nan, np.nan]])  # cell 3: everyone failed
    failed = np.array([[False, False, True], [False, False, False], [True, True, True]])
    rel, kept = ST.relative_array(med, failed, True)
    assert kept.tolist() == [True, True, False]
    assert rel[0].tolist() == pytest.approx([1.0, 0.5, 0.25])
    assert rel[1].tolist() == pytest.approx([0.5, 1.0, 0.5])
    assert np.isnan(rel[2]).all()
    mem, _ = ST.relative_array(med, failed, False)
    assert mem[0].tolist() == pytest.approx([0.5, 1.0, 0.25])
    # a leading (bootstrap) axis gives the same answer per replicate
    boot, _ = ST.relative_array(np.stack([med, med * 2]), failed, True)
    assert boot.shape == (2, 3, 3)
    assert boot[1, 0].tolist() == pytest.approx([1.0, 0.5, 0.25])


def test_tie_groups():
    order = ["a", "b", "c", "d", "e"]
    lo = {"a": 0.9, "b": 0.85, "c": 0.7, "d": 0.5, "e": float("nan")}
    hi = {"a": 1.0, "b": 0.95, "c": 0.88, "d": 0.6, "e": float("nan")}
    # b overlaps a -> tied; c overlaps b but not a (the group's first) -> new group
    assert ST.tie_groups(order, lo, hi) == {"a": (1, True), "b": (1, True), "c": (3, False),
                                           "d": (4, False), "e": (5, False)}


def test_ratio_replicates():
    rng = np.random.default_rng(0)
    point, reps = ST.ratio_replicates([100, 100, 100], [90, 90, 90], 200, rng)
    assert point == pytest.approx(0.9) and np.allclose(reps, 0.9)
    point, reps = ST.ratio_replicates([100, 110, 90], [100, 110, 90], 500, rng)
    lo, hi = ST.interval(reps)
    assert point == 1.0 and lo < 1.0 < hi
    assert math.isnan(ST.ratio_replicates([], [1.0], 5, rng)[0])
