import html
import math
import re

import pytest

from analysis import leaderboard as L
from analysis.load import load_results
from analysis.tests.synthetic import make_check, make_doc, make_run

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
    assert sc.loc["halloc", "combined_score"] == pytest.approx(math.sqrt(math.sqrt(0.5)))
    assert sc.loc["student", "combined_score"] == pytest.approx(
        math.sqrt(math.sqrt(0.125) * 0.5))
    # tie on throughput broken by memory; the failing user .so last
    assert sc["rank"].to_dict() == {"halloc": 1, "glibc": 2, "student": 3}
    assert sc.loc["student", "kind"] == "user" and sc.loc["glibc", "kind"] == "peer"
    assert sc.loc["student", "failed_cells"] == 1 and sc.loc["halloc", "cells"] == 2
    assert sc.loc["halloc", "peak_rss"] == 10 * MiB and sc.loc["glibc", "peak_rss"] == 20 * MiB


def test_intervals_by_hand(three):
    """halloc is the best in (w,1) whatever its resampled median (90, 100 or 130 > 50) and 0.5 in
    (w,2): its interval is the point sqrt(0.5). glibc's (w,1) relative is 50 / a resampled
    median of [90, 100, 130], so its score lies in [sqrt(50/130), sqrt(50/90)] and its interval
    overlaps halloc's: a tie. student lies far below: rank 3, not tied."""
    sc = L.scores(three).set_index("allocator")
    assert sc.loc["halloc", "throughput_lo"] == pytest.approx(math.sqrt(0.5))
    assert sc.loc["halloc", "throughput_hi"] == pytest.approx(math.sqrt(0.5))
    assert math.sqrt(50 / 130) - 1e-9 <= sc.loc["glibc", "throughput_lo"] \
        <= sc.loc["glibc", "throughput_hi"] <= math.sqrt(50 / 90) + 1e-9
    assert sc.loc["glibc", "throughput_lo"] < math.sqrt(0.5) < sc.loc["glibc", "throughput_hi"]
    assert sc.loc["halloc", "rank_label"] == "1=" and sc.loc["glibc", "rank_label"] == "1="
    assert sc.loc["student", "rank_label"] == "3" and not sc.loc["student", "tied"]
    # deterministic: the same data gives the same interval
    again = L.scores(three).set_index("allocator")
    assert again.loc["glibc", "throughput_lo"] == sc.loc["glibc", "throughput_lo"]


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
    assert "n/a" in L.render_html(df)
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
    df = _df(write_json, runs)
    ws = L.workload_scores(df)
    assert ws.loc["b", "x"] == pytest.approx(0.25) and ws.loc["b", "y"] == pytest.approx(1.0)
    ci = L.workload_intervals(df, "throughput", ["a", "b"])
    assert ci[("x", "b")] == pytest.approx((0.25, 0.25))     # one repetition: a point
    assert "| b | 0.250 [0.250, 0.250] | 1.000 [1.000, 1.000] |" in L.render_markdown(df)


def test_markdown_and_html_render(three):
    md = L.render_markdown(three)
    assert "| 1= | halloc | halloc | 0.707 [0.707, 0.707] | 1.000 | 0.841 | not checked | 0/2 " \
        "| 10.0 MiB |" in md
    assert re.search(r"\| 3 \| student \| user \| 0\.354 \[0\.\d+, 0\.\d+\] \| 0\.500 \| "
                     r"0\.420 \| not checked \| 1/2 \|", md)
    assert md.index("How the scores are computed") < md.index("## Summary")
    assert "## Failures" in md and "failed: synthetic" in md
    assert "| w | 1 | halloc 100 | 1.000 | 0.500 | FAIL 0.250 |" in md
    assert "| w | 2 | glibc 200 | 0.500 | 1.000 | 0.500 |" in md
    assert "Not checked" in md     # no allocator went through the gate: said so
    page = L.render_html(three, {"fake": "iVBORw0KGgo="})
    assert page.startswith("<!DOCTYPE html>")
    assert 'src="data:image/png;base64,iVBORw0KGgo="' in page
    # rows styled by kind, none singled out; FAIL cells highlighted
    assert '<td class="kind-halloc text">halloc</td>' in page
    assert '<td class="kind-peer text">glibc</td>' in page
    assert '<td class="kind-user text">student</td>' in page
    assert "ours" not in re.findall(r'class="([^"]+)"', page)
    assert "bold" not in page and "<b>halloc" not in page
    assert '<td class="fail">FAIL 0.250</td>' in page


def _gated(write_json, runs, checks, **kw):
    return load_results([write_json(make_doc(runs, checks=checks, **kw))])


def _grid(allocs, thr, rss=None, reps=3, cells=(("w", 1), ("w", 2)), jitter=0.01):
    """Runs with a given throughput (and peak RSS) per allocator, reps spread by +-jitter."""
    R = []
    for w, t in cells:
        for a in allocs:
            for r in range(reps):
                f = 1 + jitter * (r - (reps - 1) / 2)
                R.append(make_run(w, a, t, r, throughput=thr[a] * f,
                                  peak_rss=(rss or {}).get(a, 10 * MiB) * f))
    return R


def test_incorrect_allocator_listed_with_checks_and_not_ranked(write_json):
    # "wrong" is the fastest, but fails the gate: it must not rank, nor set the cells' best
    runs = _grid(["halloc", "glibc", "wrong"], {"halloc": 100, "glibc": 50, "wrong": 1000})
    checks = {"halloc": make_check(), "glibc": make_check(),
              "wrong": make_check(False, [("alignment", "aligned_alloc(64, 100) returned "
                                           "0x7f0000000008 (not 64-aligned)"),
                                          ("overlap_threads", "blocks 3 and 9 overlap")])}
    df = _gated(write_json, runs, checks)
    sc = L.scores(df).set_index("allocator")
    assert "wrong" not in sc.index
    assert sc.loc["halloc", "throughput_score"] == pytest.approx(1.0)   # best without "wrong"
    assert sc.loc["halloc", "correctness"] == "passed"
    md = L.render_markdown(df)
    assert "## Incorrect (not ranked)" in md
    assert "| alignment | aligned_alloc(64, 100) returned 0x7f0000000008 (not 64-aligned) |" in md
    assert "| overlap_threads | blocks 3 and 9 overlap |" in md
    assert "| - | wrong | user | not ranked |" in md and "INCORRECT (2 checks failed)" in md
    assert "Not checked" not in md
    assert '<td class="fail">INCORRECT (2 checks failed)</td>' in L.render_html(df)


def test_null_check_is_stated_as_not_checked(write_json):
    runs = _grid(["halloc", "student"], {"halloc": 100, "student": 90})
    df = _gated(write_json, runs, {"halloc": make_check(), "student": None})
    sc = L.scores(df).set_index("allocator")
    assert sc.loc["student", "correctness"] == "not checked"
    assert sc.loc["halloc", "correctness"] == "passed"
    md = L.render_markdown(df)
    assert "student: not checked for correctness" in md


def test_corrupt_and_wrong_output_are_failures(write_json):
    runs = [make_run("w", "a", 1, 0, throughput=100), make_run("w", "b", 1, 0, throughput=100),
            make_run("w", "a", 2, 0, throughput=100),
            make_run("w", "b", 2, 0, status="corrupt",
                     error="verify: block 17 byte 63 is 0x00, expected 0x5a"),
            make_run("w", "c", 1, 0, status="wrong_output", error="digest differs from glibc"),
            make_run("w", "c", 2, 0, throughput=100)]
    df = _df(write_json, runs)
    sc = L.scores(df).set_index("allocator")
    assert sc.loc["b", "failed_cells"] == 1 and sc.loc["c", "failed_cells"] == 1
    assert sc.loc["a", "throughput_score"] == 1.0
    assert sc.loc["b", "throughput_score"] == pytest.approx(math.sqrt(0.5))
    md = L.render_markdown(df)
    assert "verify: block 17 byte 63 is 0x00, expected 0x5a" in md


def test_clearly_separated_allocators_are_not_tied(write_json):
    runs = _grid(["a", "b", "c"], {"a": 100, "b": 60, "c": 59.5}, reps=5, jitter=0.02)
    sc = L.scores(_df(write_json, runs)).set_index("allocator")
    assert sc.loc["a", "rank_label"] == "1" and not sc.loc["a", "tied"]
    assert sc.loc["b", "rank_label"] == "2=" and sc.loc["c", "rank_label"] == "2="
    assert sc.loc["a", "throughput_lo"] > sc.loc["b", "throughput_hi"]


def test_leaky_allocator_passes_the_gate_and_ranks_last_on_memory(write_json):
    # "leaky" (free does nothing) is correct and fast, but its peak RSS is 20x the others'
    allocs = ["halloc", "glibc", "leaky"]
    runs = _grid(allocs, {"halloc": 100, "glibc": 80, "leaky": 120},
                 {"halloc": 10 * MiB, "glibc": 12 * MiB, "leaky": 200 * MiB})
    df = _gated(write_json, runs, {a: make_check() for a in allocs})
    by_mem = L.scores(df, rank_by="memory")
    assert list(by_mem["allocator"]) == ["halloc", "glibc", "leaky"]
    assert by_mem.iloc[-1]["memory_score"] == pytest.approx(0.05, rel=0.05)
    assert L.scores(df, rank_by="throughput").iloc[0]["allocator"] == "leaky"
    md = L.render_markdown(df, rank_by="memory")
    assert "Ranked by the memory score" in md and "memory score [95% CI]" in md
    with pytest.raises(ValueError):
        L.scores(df, rank_by="speed")


def test_failures_grouped_by_allocator_and_never_cut(write_json):
    long_err = ("child killed by signal 11 (SIGSEGV); stderr: /home/student/very/long/path/"
                "to/the/submission/build/lib/libstudent-malloc-implementation.so: "
                + "x" * 200 + " END")
    runs = [make_run("w", "a", 1, 0, throughput=100), make_run("w", "a", 2, 0, throughput=100)]
    for t in (1, 2):
        for r in (0, 1):
            runs.append(make_run("w", "s", t, r, status="failed", error=long_err))
    runs.append(make_run("w", "s", 2, 2, status="timeout", error="timed out after 60 s"))
    df = _df(write_json, runs)
    groups = L.failures_by_allocator(df)
    assert list(groups) == ["s"]
    assert groups["s"][0] == {"status": "failed", "error": long_err, "runs": 4,
                              "cells": "w 1t (reps 0, 1); w 2t (reps 0, 1)"}
    assert groups["s"][1]["cells"] == "w 2t (rep 2)"
    md = L.render_markdown(df)
    assert "### s: 5 failed run(s)" in md and long_err in md
    assert html.escape(long_err) in L.render_html(df)


def test_alerts_for_params_dirty_tree_and_partial_in_both_renderers(write_json):
    runs = _grid(["a", "b"], {"a": 100, "b": 50})
    df = load_results([write_json(make_doc(
        runs, config={"params": ["larson.slots=1000", "size=16"], "duration_s": 2.0},
        machine={"git_dirty": True, "git_commit": "abcdef0123456789"}))])
    md = L.render_markdown(df)
    page = L.render_html(df)
    for text in ("NON-DEFAULT PARAMETERS: larson.slots=1000, size=16", "DIRTY",
                 "duration 2.0 s", "(work tree DIRTY)"):
        assert text in md and text in page
    assert "<p class=alert>DIRTY" in page
    clean = load_results([write_json(make_doc(runs, config={"params": []},
                                              machine={"git_dirty": False}))])
    md = L.render_markdown(clean)
    assert "DIRTY" not in md and "NON-DEFAULT" not in md and "defaults (no --param)" in md
