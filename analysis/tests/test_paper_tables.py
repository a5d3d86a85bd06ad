"""Tables 2, 3, 5 and 6 and the verdict lines, on small hand-made runs whose answers are known."""
from analysis import paper as P
from analysis import paper_tables as T
from analysis import sharing as SH
from analysis.load import load_results
from analysis.tests import synthetic


def _df(tmp_path, runs):
    synthetic.write(synthetic.make_doc(runs), tmp_path / "run.json")
    return load_results([tmp_path])


def test_change_percent_is_the_papers_arithmetic():
    assert round(T.change_percent(12.0, 10.0), 9) == 20.0  # slower: (t - base) / base
    assert round(T.change_percent(8.0, 10.0), 9) == -25.0  # faster: -(base / t - 1)
    assert round(T.change_percent(15.599, 16.549), 1) == -6.1  # the paper's threadtest row
    assert round(T.change_percent(18.995, 12.73), 1) == 49.2   # and shbench


def test_table2_compares_each_halloc_with_glibc_at_one_thread(tmp_path):
    runs = [synthetic.make_run("threadtest", a, 1, r, throughput=1e6, seconds=s)
            for a, s in (("glibc", 2.0), ("halloc-paper", 2.5), ("halloc", 1.0)) for r in (0, 1)]
    runs += [synthetic.make_run("threadtest", "glibc", 2, 0, seconds=9.0)]
    t = T.table2(_df(tmp_path, runs), P.load_paper()).set_index("our workload")
    row = t.loc["threadtest"]
    assert row["paper benchmark"] == "threadtest" and row["paper change %"] == -6.1
    assert row["glibc"] == 2.0 and row["halloc-paper"] == 2.5
    assert row["halloc-paper change %"] == 25.0
    assert row["halloc change %"] == -100.0


def test_table2_of_a_run_without_one_thread_says_so(tmp_path):
    # `make ablation` sweeps 1, 2 and 4 x nproc threads: no 1-thread cell on 2 cores.
    runs = [synthetic.make_run("threadtest", a, 2, 0, throughput=1e6, seconds=1.0)
            for a in ("glibc", "halloc-paper", "halloc")]
    df = _df(tmp_path, runs)
    assert T.table2(df, P.load_paper()).empty
    text = T.table2_markdown(df, P.load_paper(), "the paper")
    assert "this run has no 1-thread runs" in text
    assert "Ours, halloc-paper: -% (mean over 0 rows); halloc: -%." in text


def _traced(allocator, active, passive, threads=4, **over):
    sharing = {"objects": 1000, "active": active, "passive": passive, "lines": 3,
               "complete": True, "traced_throughput_ops_per_s": 1e5}
    sharing.update(over)
    return synthetic.make_run("cache-scratch", allocator, threads, 0, throughput=1e6,
                              sharing=sharing)


def test_table3_shows_active_and_passive_at_the_largest_traced_thread_count(tmp_path):
    runs = [_traced("glibc", 0, 958), _traced("halloc", 0, 0), _traced("glibc", 5, 5, threads=2),
            _traced("tcmalloc", 996, 4, complete=False),
            synthetic.make_run("cache-scratch", "halloc", 4, 1, sharing=None)]
    df = _df(tmp_path, runs)
    t = SH.table3(df).set_index("workload")
    assert t.loc["cache-scratch", "glibc"] == "0 / 958"
    assert t.loc["cache-scratch", "halloc"] == "0 / 0"
    assert t.loc["cache-scratch", "tcmalloc"] == "996 / 4*"   # the table overflowed
    rows = SH.sharing_rows(df)
    assert set(rows["overhead"].round(3)) == {10.0}  # 1e6 untraced / 1e5 traced
    md = SH.table3_markdown(df, P.load_paper(), P.CITATION)
    assert "| cache-scratch | 4 | - |" in md  # the paper has no cache-scratch row
    assert "| cache-scratch | 4 | 10.0x | 10.0x | 10.0x |" in md


def test_table3_gives_the_papers_zero_for_hoard(tmp_path):
    runs = [synthetic.make_run("threadtest", "halloc", 2, 0,
                               sharing={"objects": 5, "active": 1, "passive": 0, "lines": 1,
                                        "complete": True})]
    md = SH.table3_markdown(_df(tmp_path, runs), P.load_paper(), P.CITATION)
    assert "| threadtest | 2 | 0 | 1 / 0 |" in md


def test_a_failed_trace_is_shown_not_dropped(tmp_path):
    runs = [synthetic.make_run("larson", "tbbmalloc", 2, 0, sharing={"error": "timed out"})]
    assert SH.table3(_df(tmp_path, runs)).iloc[0]["tbbmalloc"] == "failed"


def _scaling(allocator, at1, at2):
    return [synthetic.make_run("threadtest", allocator, t, r, throughput=v)
            for t, v in ((1, at1), (2, at2)) for r in (0, 1)]


def test_verdict_matches_when_hoard_like_scales_and_serial_does_not(tmp_path):
    runs = (_scaling("halloc-paper", 1e6, 1.9e6) + _scaling("halloc-serial", 1e6, 0.5e6)
            + _scaling("glibc", 1e6, 1.8e6))
    line = P.verdict(_df(tmp_path, runs), P.load_paper(), "threadtest")
    assert "at 2 threads" in line and "x1.90 scales" in line
    assert line.endswith("shape MATCHES")


def test_verdict_names_what_differs(tmp_path):
    runs = _scaling("halloc-paper", 1e6, 1.1e6) + _scaling("halloc-serial", 1e6, 1.9e6)
    line = P.verdict(_df(tmp_path, runs), P.load_paper(), "threadtest")
    assert line.endswith("shape DIFFERS for halloc-paper, halloc-serial")


def test_verdict_without_multithreaded_runs_says_so(tmp_path):
    runs = [synthetic.make_run("larson", "halloc", 1, 0)]
    assert "no verdict" in P.verdict(_df(tmp_path, runs), P.load_paper(), "Larson")


def test_f_tables_take_each_f_variant_at_the_largest_thread_count(tmp_path):
    runs = []
    for a, blowup in (("halloc-paper-f8", 1.1), ("halloc-paper", 1.2), ("halloc-paper-f2", 1.6)):
        runs.append(synthetic.make_run("larson", a, 4, 0, throughput=2e6, blowup=blowup,
                                       params={"duration_s": 0.5}))
        runs.append(synthetic.make_run("larson", a, 1, 0, throughput=1e6, blowup=9.0,
                                       params={"duration_s": 0.5}))
    t = T.f_tables(_df(tmp_path, runs), P.load_paper())
    larson = t[t["our workload"] == "larson"].set_index("f")
    assert list(larson["allocator"]) == ["halloc-paper-f8", "halloc-paper", "halloc-paper-f2"]
    assert list(larson["our blowup"]) == [1.1, 1.2, 1.6]
    assert list(larson["our throughput (ops/s)"]) == [2e6] * 3
    assert larson.loc["1/2", "paper A/U"] == 1.61
    md = T.f_tables_markdown(_df(tmp_path, runs), P.load_paper(), P.CITATION)
    assert "| Larson | larson | 4 | 4,407,654 | 2,000,000 ops/s |" in md
