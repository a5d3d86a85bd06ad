import math

import pytest

from analysis import ablation as A
from analysis.__main__ import main
from analysis.load import load_results
from analysis.tests.synthetic import make_doc, make_run

MiB = 1 << 20


@pytest.fixture
def df(write_json):
    """Hand-computable: workloads w (threads 1, 2) and v (threads 1).
    throughput  halloc-paper 100 everywhere; halloc-abl-s64k 200 (w,1), 50 (w,2), 300 (v,1);
                halloc 400 (w,1) with reps [400, 390, 1000], 400 (w,2), failed (v,1);
                jemalloc 500 (w,1), 100 (w,2), 100 (v,1); glibc 300 everywhere.
    peak RSS    halloc-paper 10 MiB; halloc-abl-s64k 20; halloc 5; jemalloc 4; glibc 8.
    """
    R = []
    for w, t in (("w", 1), ("w", 2), ("v", 1)):
        R.append(make_run(w, "halloc-paper", t, throughput=100, peak_rss=10 * MiB))
        R.append(make_run(w, "glibc", t, throughput=300, peak_rss=8 * MiB))
    for (w, t), thr in {("w", 1): 200, ("w", 2): 50, ("v", 1): 300}.items():
        R.append(make_run(w, "halloc-abl-s64k", t, throughput=thr, peak_rss=20 * MiB))
    for (w, t), thr in {("w", 1): 500, ("w", 2): 100, ("v", 1): 100}.items():
        R.append(make_run(w, "jemalloc", t, throughput=thr, peak_rss=4 * MiB))
    for rep, thr in enumerate([400, 390, 1000]):
        R.append(make_run("w", "halloc", 1, rep, throughput=thr, peak_rss=5 * MiB))
    R.append(make_run("w", "halloc", 2, throughput=400, peak_rss=5 * MiB))
    R.append(make_run("v", "halloc", 1, status="failed"))
    return load_results([write_json(make_doc(R))])


def test_ablation_ratios_are_geometric_means_over_threads(df):
    tput, rss = A.ablation_tables(df)
    assert list(tput.index) == ["halloc-paper", "halloc-abl-s64k", "halloc"]
    assert tput.loc["halloc-paper"].tolist() == [1.0, 1.0, 1.0]
    assert tput.loc["halloc-abl-s64k", "w"] == pytest.approx(math.sqrt(2.0 * 0.5))
    assert tput.loc["halloc-abl-s64k", "v"] == pytest.approx(3.0)
    assert tput.loc["halloc-abl-s64k", "all"] == pytest.approx((2.0 * 0.5 * 3.0) ** (1 / 3))
    # halloc: median 400 at (w,1); its failed cell (v,1) is left out, not counted as a ratio.
    assert tput.loc["halloc", "w"] == pytest.approx(4.0)
    assert math.isnan(tput.loc["halloc", "v"])
    assert rss.loc["halloc-abl-s64k", "all"] == pytest.approx(2.0)
    assert rss.loc["halloc", "w"] == pytest.approx(0.5)


def test_versus_best_peer_picks_the_fastest_and_the_smallest_peer(df):
    vs = A.versus_best_peer(df).set_index(["workload", "threads"])
    assert vs.loc[("w", 1), "best_peer"] == "jemalloc"
    assert vs.loc[("w", 1), "throughput_ratio"] == pytest.approx(400 / 500)
    assert vs.loc[("w", 2), "best_peer"] == "glibc"
    assert vs.loc[("w", 2), "throughput_ratio"] == pytest.approx(400 / 300)
    assert vs.loc[("w", 1), "smallest_peer"] == "jemalloc"
    assert vs.loc[("w", 1), "rss_ratio"] == pytest.approx(5 / 4)
    assert math.isnan(vs.loc[("v", 1), "throughput_ratio"])  # halloc failed there


def test_versus_best_peer_gives_intervals_and_verdicts(write_json):
    # Three reps a side. a: halloc's every rep above jemalloc's (ahead), RSS 1.5x (over);
    # b: every rep below (behind), RSS 1.0x (within); c: the reps interleave (level), and RSS
    # reps 1.1x..1.3x hold the 1.2 bound (unclear).
    R = []
    for rep in range(3):
        for w, mine, peer, my_rss, peer_rss in (
                ("a", 200 + rep, 100 + rep, 15, 10), ("b", 50 + rep, 100 + rep, 10, 10),
                ("c", (90, 110, 100)[rep], (100, 95, 105)[rep], (11, 12, 13)[rep], 10)):
            R.append(make_run(w, "halloc", 1, rep, throughput=mine, peak_rss=my_rss * MiB))
            R.append(make_run(w, "jemalloc", 1, rep, throughput=peer, peak_rss=peer_rss * MiB))
    vs = A.versus_best_peer(load_results([write_json(make_doc(R))])).set_index("workload")
    assert list(vs["throughput_verdict"]) == ["ahead", "behind", "level"]
    assert list(vs["rss_verdict"]) == ["over", "within", "unclear"]
    assert vs.loc["a", "throughput_lo"] == pytest.approx(200 / 102)
    assert vs.loc["a", "throughput_hi"] == pytest.approx(202 / 100)
    assert vs.loc["c", "rss_lo"] == pytest.approx(1.1)
    assert vs.loc["c", "rss_hi"] == pytest.approx(1.3)
    for w in "abc":
        row = vs.loc[w]
        assert row["throughput_lo"] <= row["throughput_ratio"] <= row["throughput_hi"]


def test_ablation_command_writes_the_tables(write_json, tmp_path, capsys):
    run = write_json(make_doc([make_run("w", a, 1, throughput=t) for a, t in
                               (("halloc-paper", 100), ("halloc-abl-s64k", 120),
                                ("halloc", 150), ("jemalloc", 120))],
                              config={"params": ["w.slots=10"]}))
    assert main(["ablation", str(run)]) == 0
    text = (tmp_path / "ablation.md").read_text()
    assert (
        "| halloc | + superblocks of 2-4 S and 4 cached blocks for the largest classes, emptied "
        "superblocks leave at once, freed memory kept for reuse (large mappings; superblock "
        "pages for 1 s) (= halloc) | 1.50 | 1.50 |" in text
    )
    assert "| halloc-abl-s64k | + 64 KiB superblocks (K = 64, reserve 16 empty) | 1.20 |" in text
    # One repetition a side: a ratio, but no interval and no verdict.
    assert "| w | 1 | jemalloc | 1.25 | too few reps |" in text
    assert "Cells: throughput 0 ahead, 0 level, 0 behind, 1 without a verdict" in text
    assert "NON-DEFAULT PARAMETERS: w.slots=10" in text
    assert "ablation.md" in capsys.readouterr().out


def test_no_ablation_md_without_the_steps(write_json, tmp_path, capsys):
    # plain `make bench`: halloc-paper and halloc but no halloc-abl-* step -> nothing written
    run = write_json(make_doc([make_run("w", a, 1, throughput=t) for a, t in
                               (("halloc-paper", 100), ("halloc", 150), ("glibc", 120))]))
    assert main(["ablation", str(run)]) == 0
    assert not (tmp_path / "ablation.md").exists()
    assert "no ablation steps" in capsys.readouterr().err
    assert not A.has_ablation(load_results([run]))


def test_without_halloc_paper_the_ablation_says_how_to_get_one(write_json):
    df = load_results([write_json(make_doc([make_run("w", "halloc", 1)]))])
    assert "make ablation" in A.render_markdown(df)


def test_issue_11_shapes_are_columns_in_allocbench_order(write_json):
    # allocbench lists size-mix, mass-alloc, large-buffers after the classic workloads; sorted
    # by name they would come out large-buffers, mass-alloc, size-mix.
    R = [make_run(w, a, 1, throughput=100, peak_rss=10 * MiB)
         for w in ("large-buffers", "threadtest", "size-mix", "mass-alloc")
         for a in ("halloc-paper", "halloc", "glibc")]
    tput, _ = A.ablation_tables(load_results([write_json(make_doc(R))]))
    assert list(tput.columns) == ["threadtest", "size-mix", "mass-alloc", "large-buffers", "all"]
