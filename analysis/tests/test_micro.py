from analysis import figures as F
from analysis import leaderboard as L
from analysis import micro as M
from analysis.load import load_results
from analysis.tests.synthetic import make_check, make_doc, make_micro, make_run

TIMES = {"malloc_free/16/real_time/threads:1": 8.0, "batch_1000/16/real_time/threads:1": 9000.0}


def _df(write_json, micro, checks=None):
    allocs = sorted(micro)
    runs = [make_run("larson", a, 1, 0) for a in allocs]
    return load_results([write_json(make_doc(runs, micro=micro, checks=checks))])


def test_micro_table_per_benchmark_and_allocator(write_json):
    micro = {"halloc": make_micro(TIMES),
             "glibc": make_micro({k: 2 * v for k, v in TIMES.items()})}
    micro["glibc"]["benchmarks"][0]["time_unit"] = "us"     # units are converted to ns
    micro["glibc"]["benchmarks"][0]["real_time"] = 0.016
    df = _df(write_json, micro)
    t = M.micro_table(df)
    assert list(t.columns) == ["halloc", "glibc"] and list(t.index) == list(TIMES)
    assert t.loc["malloc_free/16/real_time/threads:1", "glibc"] == 16.0
    assert t.loc["batch_1000/16/real_time/threads:1", "halloc"] == 9000.0
    md = L.render_markdown(df)
    assert "## Microbenchmarks" in md
    assert "| malloc_free/16/real_time/threads:1 | 8.0 | 16.0 |" in md
    fig = F.micro_figure(df)
    assert "lower is better" in fig.axes[0].get_title()
    assert len(fig.axes[0].patches) == 4


def test_micro_error_is_reported_not_measured(write_json):
    micro = {"halloc": make_micro(TIMES),
             "student": make_micro({}, error="child killed by signal 11 (SIGSEGV)")}
    df = _df(write_json, micro)
    assert list(M.micro_table(df).columns) == ["halloc"]
    assert M.micro_problems(df) == {"student": "error: child killed by signal 11 (SIGSEGV)"}
    md = L.render_markdown(df)
    assert "### Microbenchmarks not measured" in md
    assert "| student | error: child killed by signal 11 (SIGSEGV) |" in md


def test_micro_of_an_allocator_that_failed_the_gate_is_withheld(write_json):
    # "nomalloc" exports no malloc: its micro numbers are glibc's (identical here); the gate
    # says so, and the analysis must not show them as its measurement
    micro = {"glibc": make_micro(TIMES), "nomalloc": make_micro(TIMES)}
    checks = {"glibc": make_check(),
              "nomalloc": make_check(False, [("serves-all", "malloc is glibc's, not the "
                                              "library's (mixed heap)")])}
    df = _df(write_json, micro, checks)
    assert list(M.micro_table(df).columns) == ["glibc"]
    why = M.micro_problems(df)["nomalloc"]
    assert why == ("not measured: failed the correctness gate (serves-all): it does not serve "
                   "the malloc family itself, so these would be glibc's numbers")
    text = "\n".join(t.get_text() for t in F.micro_figure(df).texts)
    assert "nomalloc" in text and "not measured" in text


def test_unchecked_micro_is_said_to_be_unchecked(write_json):
    micro = {"glibc": make_micro(TIMES), "student": make_micro(TIMES)}
    df = _df(write_json, micro, {"glibc": make_check(), "student": None})
    assert M.micro_unchecked(df) == ["student"]
    md = L.render_markdown(df)
    assert "Not checked by the correctness gate: student; nothing shows that they serve" in md


def test_no_micro_no_section(write_json):
    df = load_results([write_json(make_doc([make_run()]))])
    assert M.micro_table(df).empty and "Microbenchmarks" not in L.render_markdown(df)
