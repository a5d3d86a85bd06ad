import math

import pytest

from analysis import leaderboard as L
from analysis.load import load_results
from analysis.tests.synthetic import make_doc, make_run

MiB = 1 << 20


def _df(write_json, runs):
    return load_results([write_json(make_doc(runs))])


@pytest.fixture
def three(write_json):
    """Hand-computable: cells (w,1) and (w,2); A, B and a user .so "student" (C).
    throughput  (w,1): A median 100 of [90,100,130], B 50, C failed   (w,2): A 100, B 200, C 100
    peak RSS    (w,1): A 10, B 20, C failed                           (w,2): A 10, B 10, C 10 MiB
    """
    R = []
    for rep, thr in enumerate([90, 100, 130]):
        R.append(make_run("w", "halloc", 1, rep, throughput=thr, peak_rss=10 * MiB))
    R.append(make_run("w", "glibc", 1, 0, throughput=50, peak_rss=20 * MiB))
    R.append(make_run("w", "student", 1, 0, status="failed"))
    R.append(make_run("w", "halloc", 2, 0, throughput=100, peak_rss=10 * MiB))
    R.append(make_run("w", "glibc", 2, 0, throughput=200, peak_rss=10 * MiB))
    R.append(make_run("w", "student", 2, 0, throughput=100, peak_rss=10 * MiB))
    return _df(write_json, R)


def test_geometric_mean_by_hand():
    assert L.geometric_mean([1, 0.5]) == pytest.approx(0.70710678)
    assert L.geometric_mean([2, 8]) == pytest.approx(4.0)
    assert L.geometric_mean([0.0, 1.0]) == 0.0
    assert math.isnan(L.geometric_mean([]))
    assert L.geometric_mean([0.25, float("nan"), 1.0]) == pytest.approx(0.5)


def test_cell_medians_and_failed_mask(three):
    med, failed = L.cell_medians(three, "throughput")
    assert list(med.columns) == ["halloc", "glibc", "student"]
    assert med.loc[("w", 1), "halloc"] == 100.0          # median of 90, 100, 130
    assert math.isnan(med.loc[("w", 1), "student"])
    assert failed.loc[("w", 1), "student"]
    assert not failed.loc[("w", 2), "student"]


def test_relative_scores_with_failure_floor(three):
    med, failed = L.cell_medians(three, "throughput")
    rel = L.relative_scores(med, failed, higher_is_better=True)
    assert rel.loc[("w", 1)].tolist() == pytest.approx([1.0, 0.5, 0.25])   # fail = 0.5 * 0.5
    assert rel.loc[("w", 2)].tolist() == pytest.approx([0.5, 1.0, 0.5])


def test_memory_relative_is_smallest_over_this(three):
    med, failed = L.cell_medians(three, "peak_rss")
    rel = L.relative_scores(med, failed, higher_is_better=False)
    assert rel.loc[("w", 1)].tolist() == pytest.approx([1.0, 0.5, 0.25])
    assert rel.loc[("w", 2)].tolist() == pytest.approx([1.0, 1.0, 1.0])


def test_scores_by_hand(three):
    sc = L.scores(three).set_index("allocator")
    assert sc.loc["halloc", "throughput_score"] == pytest.approx(math.sqrt(0.5))
    assert sc.loc["glibc", "throughput_score"] == pytest.approx(math.sqrt(0.5))
    assert sc.loc["student", "throughput_score"] == pytest.approx(math.sqrt(0.125))
    assert sc.loc["halloc", "memory_score"] == pytest.approx(1.0)
    assert sc.loc["glibc", "memory_score"] == pytest.approx(math.sqrt(0.5))
    assert sc.loc["student", "memory_score"] == pytest.approx(0.5)
    assert sc.loc["halloc", "combined"] == pytest.approx(math.sqrt(math.sqrt(0.5)))
    assert sc.loc["student", "combined"] == pytest.approx(math.sqrt(math.sqrt(0.125) * 0.5))
    # tie on throughput broken by memory; the failing user .so last
    assert sc["rank"].to_dict() == {"halloc": 1, "glibc": 2, "student": 3}
    assert sc.loc["student", "kind"] == "user" and sc.loc["glibc", "kind"] == "peer"
    assert sc.loc["student", "failed_cells"] == 1 and sc.loc["halloc", "cells"] == 2


def test_failure_never_ranks_above_a_success(write_json):
    # "crashy" is 10x faster where it works but crashes in the other cell; "slow" always works
    # at 1/100 of the best. The crash must still score below "slow" in the crashed cell.
    runs = [make_run("w", "crashy", 1, 0, throughput=1000),
            make_run("w", "slow", 1, 0, throughput=10),
            make_run("w", "crashy", 2, 0, status="timeout"),
            make_run("w", "slow", 2, 0, throughput=10),
            make_run("w", "fast", 2, 0, throughput=1000)]
    df = _df(write_json, runs)
    med, failed = L.cell_medians(df, "throughput")
    rel = L.relative_scores(med, failed)
    cell = rel.loc[("w", 2)]
    assert cell["crashy"] < cell["slow"] < cell["fast"]
    assert cell["crashy"] == pytest.approx(0.5 * 0.01)


def test_partial_failure_fails_the_cell(write_json):
    runs = [make_run("w", "a", 1, 0, throughput=100), make_run("w", "a", 1, 1, status="failed"),
            make_run("w", "b", 1, 0, throughput=50)]
    med, failed = L.cell_medians(_df(write_json, runs), "throughput")
    assert med.loc[("w", 1), "a"] == 100.0
    assert failed.loc[("w", 1), "a"] and not failed.loc[("w", 1), "b"]
    rel = L.relative_scores(med, failed)
    assert rel.loc[("w", 1), "b"] == 1.0 and rel.loc[("w", 1), "a"] == 0.5


def test_cell_where_everyone_failed_is_dropped(write_json):
    runs = [make_run("w", "a", 1, 0, throughput=100), make_run("w", "b", 1, 0, throughput=50),
            make_run("w", "a", 2, 0, status="failed"), make_run("w", "b", 2, 0, status="failed")]
    sc = L.scores(_df(write_json, runs)).set_index("allocator")
    assert sc.loc["a", "throughput_score"] == 1.0
    assert sc.loc["b", "throughput_score"] == 0.5
    assert sc.loc["a", "cells"] == 2 and sc.loc["a", "failed_cells"] == 1
    assert "1 of 2 cell(s) failed for every allocator" in L.render_markdown(
        _df(write_json, runs))


def test_all_cells_failed_still_renders(write_json):
    runs = [make_run("w", "a", 1, 0, status="failed"), make_run("w", "b", 1, 0,
                                                                status="timeout")]
    df = _df(write_json, runs)
    sc = L.scores(df)
    assert sc["throughput_score"].isna().all() and (sc["failed_cells"] == 1).all()
    md = L.render_markdown(df)
    assert "no cell is left to score" in md and "timeout: synthetic" in md


def test_skipped_allocator_listed_not_ranked(write_json):
    runs = [make_run("w", "halloc", 1, 0),
            make_run("w", "tbbmalloc", 1, 0, status="skipped",
                     error="libtbbmalloc.so.2 not found")]
    df = _df(write_json, runs)
    assert "tbbmalloc" not in set(L.scores(df)["allocator"])
    assert "not found" in L.skipped_allocators(df)["tbbmalloc"]
    md = L.render_markdown(df)
    assert "Not ranked" in md and "tbbmalloc" in md


def test_workload_scores(write_json):
    runs = [make_run("x", "a", 1, 0, throughput=100), make_run("x", "b", 1, 0, throughput=25),
            make_run("y", "a", 1, 0, throughput=10), make_run("y", "b", 1, 0, throughput=10)]
    ws = L.workload_scores(_df(write_json, runs))
    assert ws.loc["b", "x"] == pytest.approx(0.25) and ws.loc["b", "y"] == pytest.approx(1.0)


def test_markdown_and_html_render(three):
    md = L.render_markdown(three)
    assert "| 1 | halloc | halloc | 0.707 | 1.000 | 0.841 | 0/2 |" in md
    assert "| 3 | student | user | 0.354 | 0.500 | 0.420 | 1/2 |" in md
    assert "## Failures" in md and "failed: synthetic" in md
    assert "| w | 1 | halloc 100 | 1.000 | 0.500 | FAIL 0.250 |" in md
    assert "| w | 2 | glibc 200 | 0.500 | 1.000 | 0.500 |" in md
    page = L.render_html(three, {"fake": "iVBORw0KGgo="})
    assert page.startswith("<!DOCTYPE html>")
    assert 'src="data:image/png;base64,iVBORw0KGgo="' in page
    assert '<tr class="ours">' in page
