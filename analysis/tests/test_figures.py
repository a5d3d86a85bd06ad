import matplotlib.colors as mcolors
import pytest
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure

from analysis import figures as F
from analysis import paper as P
from analysis import summary as S
from analysis.load import load_results
from analysis.tests.synthetic import make_doc, make_run


def _texts(fig):
    out = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        out += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        out += [t.get_text() for t in ax.texts]
    return "\n".join(out)


def _line(fig, label):
    for ax in fig.axes:
        for ln in ax.get_lines():
            if ln.get_label() == label:
                return ln
    return None


def _failure_marks(fig):
    return [c for ax in fig.axes for c in ax.collections
            if isinstance(c, PathCollection) and len(c.get_offsets())]


@pytest.mark.parametrize("make", [
    lambda df: F.throughput_figure(df, "larson"),
    lambda df: F.speedup_figure(df, "larson"),
    lambda df: F.memory_figure(df),
    lambda df: F.timeline_figure(df, "prodcons"),
    lambda df: F.counters_figure(df),
    lambda df: F.overview_figure(df),
    lambda df: P.comparison_figure(df, P.load_paper(), "Larson"),
    lambda df: P.overview_comparison_figure(df, P.load_paper()),
])
def test_each_figure_returns_a_figure_with_axes(df, make):
    fig = make(df)
    assert isinstance(fig, Figure)
    assert fig.axes and any(ax.has_data() for ax in fig.axes)


def test_throughput_figure_titles_lines_and_failures(df):
    fig = F.throughput_figure(df, "larson")
    ax = fig.axes[0]
    assert "higher is better" in ax.get_title()
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["halloc", "glibc"]
    # glibc failed at 2 threads: its line stops at 1 thread, and an x marks the failure
    assert list(_line(fig, "glibc").get_xdata()) == [1]
    assert list(_line(fig, "halloc").get_xdata()) == [1, 2]
    assert len(_failure_marks(fig)) == 1
    assert "failed or timed-out runs: glibc@2t (2/2)" in _texts(fig)


def test_colours_are_fixed_across_figures(df):
    a = _line(F.throughput_figure(df, "larson"), "halloc").get_color()
    b = _line(F.speedup_figure(df, "prodcons"), "halloc").get_color()
    c = _line(P.comparison_figure(df, P.load_paper(), "threadtest"), "halloc")
    assert mcolors.to_hex(a) == mcolors.to_hex(b) == "#d62728"
    assert c is None or mcolors.to_hex(c.get_color()) == "#d62728"


def test_user_allocator_gets_a_style():
    styles = S.allocator_styles(["student-b", "glibc", "halloc", "student-a"])
    assert list(styles) == ["halloc", "glibc", "student-a", "student-b"]
    assert styles["student-a"]["color"] != styles["student-b"]["color"]
    assert styles["student-a"]["color"] not in {styles["halloc"]["color"],
                                                styles["glibc"]["color"]}


def test_variation_warning_when_reps_spread_over_10_percent(write_json):
    runs = [make_run("larson", "halloc", 1, 0, throughput=100.0),
            make_run("larson", "halloc", 1, 1, throughput=130.0),
            make_run("larson", "glibc", 1, 0, throughput=100.0),
            make_run("larson", "glibc", 1, 1, throughput=105.0)]
    df = load_results([write_json(make_doc(runs))])
    text = _texts(F.throughput_figure(df, "larson"))
    assert "vary by more than 10%" in text and "larson/halloc/1t" in text
    assert "larson/glibc/1t" not in text


def test_speedup_panels(df):
    fig = F.speedup_figure(df, "prodcons")
    titles = [ax.get_title() for ax in fig.axes]
    assert any("own 1-thread" in t for t in titles) and any("glibc at 1" in t for t in titles)
    # self-relative speedup at 1 thread is exactly 1
    left = fig.axes[0]
    halloc = [ln for ln in left.get_lines() if ln.get_label() == "halloc"][0]
    assert halloc.get_ydata()[0] == pytest.approx(1.0)


def test_speedup_vs_glibc_without_glibc_says_so(write_json):
    df = load_results([write_json(make_doc([make_run("larson", "halloc", 1, 0)]))])
    assert "no baseline" in _texts(F.speedup_figure(df, "larson"))


def test_counters_figure_without_counters_says_why(write_json):
    df = load_results([write_json(make_doc([make_run(counters=False)]))])
    text = _texts(F.counters_figure(df))
    assert "no perf counters" in text and "EOPNOTSUPP" in text


def test_speedups_arithmetic():
    import pandas as pd
    stats = pd.DataFrame({"workload": ["w"] * 4, "allocator": ["a", "a", "glibc", "glibc"],
                          "threads": [1, 2, 1, 2], "median": [200.0, 300.0, 100.0, 150.0],
                          "q1": [200.0, 290.0, 100.0, 150.0],
                          "q3": [200.0, 330.0, 100.0, 150.0]})
    own = S.speedups(stats).set_index(["allocator", "threads"])
    vs = S.speedups(stats, "glibc").set_index(["allocator", "threads"])
    assert own.loc[("a", 2), "speedup"] == pytest.approx(1.5)
    assert vs.loc[("a", 2), "speedup"] == pytest.approx(3.0)
    assert vs.loc[("a", 2), "speedup_q3"] == pytest.approx(3.3)
    assert vs.loc[("a", 2), "speedup_q1"] == pytest.approx(2.9)


def test_timeline_marks_failed_allocator_and_shares_the_y_scale(write_json):
    samples_small = [{"t": 0.1 * i, "rss_bytes": (2 + i) << 20, "live_bytes": i << 19}
                     for i in range(5)]
    samples_big = [{"t": 0.1 * i, "rss_bytes": (2 + 4 * i) << 20, "live_bytes": i << 19}
                   for i in range(5)]
    runs = [make_run("prodcons", "halloc", 2, 0, samples=samples_small),
            make_run("prodcons", "glibc", 2, 0, samples=samples_big),
            make_run("prodcons", "student", 2, 0, status="failed")]
    df = load_results([write_json(make_doc(runs))])
    fig = F.timeline_figure(df, "prodcons")
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles == ["halloc", "glibc", "student"]
    assert "failed at 2 threads" in _texts(fig)
    # every panel shows glibc's peak (18 MiB): one y scale for all
    assert all(ax.get_ylim()[1] >= 18 for ax in fig.axes if ax.get_visible())


def test_bands_are_the_interquartile_range_not_min_max(write_json):
    # reps 100, 110, 120, 130, 1000: IQR 110..130; min..max would reach 1000
    runs = [make_run("larson", "halloc", 1, r, throughput=v)
            for r, v in enumerate([100.0, 110.0, 120.0, 130.0, 1000.0])]
    runs += [make_run("larson", "halloc", 2, r, throughput=v)
             for r, v in enumerate([100.0, 110.0, 120.0, 130.0, 1000.0])]
    df = load_results([write_json(make_doc(runs))])
    fig = F.throughput_figure(df, "larson")
    ax = fig.axes[0]
    band = [c for c in ax.collections if not isinstance(c, PathCollection)][0]
    ys = band.get_paths()[0].vertices[:, 1]
    assert ax.get_ylabel() == "throughput (kops/s)"
    assert max(ys) == pytest.approx(0.130) and min(ys) == pytest.approx(0.110)
    assert "interquartile" in ax.get_title()


def test_memory_legend_allocator_without_success_gets_its_own_hollow_patch(write_json):
    runs = [make_run("larson", "glibc", 1, 0, peak_rss=8 << 20),
            make_run("larson", "halloc", 1, 0, peak_rss=6 << 20),
            make_run("larson", "broken", 1, 0, status="failed")]
    df = load_results([write_json(make_doc(runs))])
    fig = F.memory_figure(df)
    legend = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None][0]
    entries = {t.get_text(): h for t, h in zip(legend.get_texts(), legend.legendHandles)}
    assert set(entries) == {"halloc", "glibc", "broken (no successful run)"}
    glibc = mcolors.to_hex(entries["glibc"].get_facecolor())
    broken = entries["broken (no successful run)"]
    assert broken.get_facecolor()[3] == 0.0            # hollow
    assert mcolors.to_hex(broken.get_edgecolor()) != glibc
    assert mcolors.to_hex(entries["halloc"].get_facecolor()) == "#d62728"


def test_an_allocator_that_failed_the_gate_is_labelled_incorrect(write_json):
    from analysis.tests.synthetic import make_check
    runs = [make_run("larson", a, t, 0) for a in ("halloc", "wrong") for t in (1, 2)]
    doc = make_doc(runs, checks={"halloc": make_check(),
                                 "wrong": make_check(False, [("alignment", "0x...08")])})
    df = load_results([write_json(doc)])
    labels = [t.get_text() for t in F.throughput_figure(df, "larson").axes[0].get_legend()
              .get_texts()]
    assert labels == ["halloc", "wrong (INCORRECT)"]


def test_overview_and_paper_footnotes_carry_the_alerts(write_json):
    runs = [make_run("larson", "halloc", 1, 0), make_run("larson", "glibc", 1, 0)]
    df = load_results([write_json(make_doc(runs, config={"params": ["larson.slots=10"]},
                                           machine={"git_dirty": True}))])
    for fig in (F.overview_figure(df), P.overview_comparison_figure(df, P.load_paper())):
        text = _texts(fig)
        assert "DIRTY" in text and "NON-DEFAULT PARAMETERS: larson.slots=10" in text
