"""Real-program runs: loaded with their metric and digest, kept apart from the synthetic
workloads, scored relative to glibc by hand-computable numbers, drawn and listed in the
leaderboard with their failures (wrong_output included)."""
import math

import pytest

from analysis import leaderboard as L
from analysis import programs as P
from analysis.__main__ import main
from analysis.load import load_results
from analysis.tests.synthetic import make_doc, make_run

MiB = 1 << 20


def program_run(workload, allocator, threads=1, rep=0, status="ok", seconds=1.0, rate=None,
                rss=10 * MiB):
    ok = status == "ok"
    value = rate if rate is not None else seconds
    rec = make_run(workload, allocator, threads, rep, status=status, peak_rss=rss,
                   counters=False, samples=[])
    rec.update({"kind": "program", "params": {"scale": 1}, "ops": None,
                "throughput_ops_per_s": rate if ok and rate is not None else None,
                "seconds": seconds if ok else None, "peak_live_bytes": None, "blowup": None,
                "baseline_rss_bytes": None,
                "metric": {"name": "requests_per_s" if rate is not None else "seconds",
                           "value": value if ok else None,
                           "higher_is_better": rate is not None},
                "output_digest": "00000000000000ff" if ok else None,
                "output_matches_glibc": True if ok else None,
                "user_seconds": 0.5, "sys_seconds": 0.1, "page_faults": 1000})
    return rec


@pytest.fixture
def mixed(write_json):
    """sqlite (1 thread): glibc 2.0 s of [2, 2, 9], halloc 1.0 s; RSS 10 vs 20 MiB.
    redis (t=1): glibc 100 000 req/s, halloc 50 000 (time per request x2), RSS 10 vs 10 MiB.
    redis (t=2): halloc wrong_output.  One synthetic larson run beside them."""
    R = [program_run("sqlite", "glibc", rep=i, seconds=s) for i, s in enumerate([2.0, 2.0, 9.0])]
    R += [program_run("sqlite", "halloc", rep=i, seconds=1.0, rss=20 * MiB) for i in range(3)]
    R += [program_run("redis", "glibc", rate=100000.0), program_run("redis", "halloc", rate=50000.0)]
    R += [program_run("redis", "glibc", threads=2, rate=100000.0),
          program_run("redis", "halloc", threads=2, status="wrong_output")]
    R.append(make_run("larson", "halloc", 1, 0))
    return load_results([write_json(make_doc(R))])


def test_load_keeps_the_program_fields(mixed):
    sqlite = mixed[(mixed["workload"] == "sqlite") & (mixed["allocator"] == "glibc")]
    assert set(sqlite["kind"]) == {"program"}
    assert list(sqlite["metric_value"]) == [2.0, 2.0, 9.0]
    assert set(sqlite["output_digest"]) == {"00000000000000ff"}
    assert (mixed[mixed["workload"] == "larson"]["kind"] == "synthetic").all()
    assert mixed[mixed["status"] == "wrong_output"]["failed"].all()


def test_split_separates_programs(mixed):
    synthetic, programs = P.split(mixed)
    assert set(synthetic["workload"]) == {"larson"}
    assert set(programs["workload"]) == {"sqlite", "redis"}


def test_ratios_and_scores_by_hand(mixed):
    stats = P.case_stats(P.split(mixed)[1]).set_index(["workload", "threads", "allocator"])
    assert stats.loc[("sqlite", 1, "halloc"), "time_ratio"] == pytest.approx(0.5)
    assert stats.loc[("sqlite", 1, "halloc"), "rss_ratio"] == pytest.approx(2.0)
    assert stats.loc[("redis", 1, "halloc"), "time_ratio"] == pytest.approx(2.0)
    assert stats.loc[("redis", 2, "halloc"), "failed_case"]
    scores = P.scores(P.case_stats(P.split(mixed)[1])).set_index("allocator")
    # halloc: 0.5, 2.0 and the failed redis t=2 case at 1.0 (glibc's, the worst success) / 0.5.
    assert scores.loc["halloc", "time_score"] == pytest.approx((0.5 * 2.0 * 2.0) ** (1 / 3))
    assert scores.loc["halloc", "failed_cases"] == 1
    assert scores.loc["glibc", "time_score"] == pytest.approx(1.0)


def test_leaderboard_has_a_real_programs_section(mixed):
    text = L.render_markdown(mixed)
    assert "## Real programs: score" in text
    assert "| sqlite | 0.50 / 2.00 |" in text
    assert "wrong_output" in text
    assert "## Summary" in text  # the synthetic part is still there
    html = L.render_html(mixed)
    assert "Real programs: time and peak RSS per program" in html


def test_figure_marks_the_failed_case(mixed):
    fig = P.programs_figure(P.split(mixed)[1])
    time_axis = fig.axes[0]
    assert [t.get_text() for t in fig.axes[1].get_xticklabels()] == ["redis t=1", "redis t=2",
                                                                    "sqlite"]
    assert len(time_axis.collections) >= 1  # the x of halloc's wrong_output


def test_cli_on_a_programs_only_run(write_json, tmp_path):
    runs = [program_run("lua", "glibc"), program_run("lua", "halloc", seconds=0.8)]
    path = write_json(make_doc(runs))
    assert main(["plots", str(path), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "figures" / "programs.png").exists()
    assert main(["leaderboard", str(path), "--out", str(tmp_path)]) == 0
    assert "| lua | 0.80 / 1.00 |" in (tmp_path / "leaderboard.md").read_text()
    assert main(["paper", str(path), "--out", str(tmp_path)]) == 0
    assert math.isclose(P.scores(P.case_stats(load_results([path])))
                        .set_index("allocator").loc["halloc", "time_score"], 0.8)


def test_csv_has_the_program_columns(mixed, tmp_path):
    from analysis.results_csv import results_table
    table = results_table(mixed)
    sqlite = table[(table["benchmark"] == "sqlite") & (table["allocator"] == "halloc")]
    assert set(sqlite["kind"]) == {"program"}
    assert set(sqlite["metric"]) == {"seconds"}
    assert list(sqlite["metric_value"]) == [1.0, 1.0, 1.0]
    assert list(sqlite["page_faults"]) == [1000, 1000, 1000]  # rusage: no perf counter here
    assert set(table[table["benchmark"] == "larson"]["kind"]) == {"synthetic"}


def test_paper_table2_has_rows_for_the_programs_of_a_mixed_run(write_json, tmp_path):
    # The paper's Table 2 lists Ghostscript beside its synthetic benchmarks: a run with both
    # gets a row per program (glibc 2.0 s, halloc 1.5 s at 1 thread), the figures none.
    runs = [program_run("ghostscript", "glibc", seconds=2.0),
            program_run("ghostscript", "halloc", seconds=1.5)]
    runs += [make_run("threadtest", a, 1, 0) for a in ("glibc", "halloc")]
    path = write_json(make_doc(runs))
    assert main(["paper", str(path), "--out", str(tmp_path)]) == 0
    table2 = (tmp_path / "paper" / "paper-table2.md").read_text()
    row = next(line for line in table2.splitlines() if line.startswith("| ghostscript"))
    assert "| 2 |" in row and "| 1.5 |" in row, row
    assert "threadtest" in table2
    assert not (tmp_path / "paper" / "paper-ghostscript.png").exists()
