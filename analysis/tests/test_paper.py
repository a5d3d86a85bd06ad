from analysis import paper as P


def test_paper_json_has_citation_and_the_five_curves():
    paper = P.load_paper()
    assert "Hoard: A Scalable Memory Allocator" in paper["source"]
    for key in P.MAPPING:
        series = paper["speedup"][key]["series"]
        assert {"Hoard", "Ptmalloc", "Solaris"} <= set(series)
        assert [p for p, _ in series["Hoard"]] == list(range(1, 15))
    assert paper["fragmentation"]["benchmarks"]["shbench"]["A_over_U"] == 3.17


def test_comparison_figure_states_how_machines_differ(df):
    fig = P.comparison_figure(df, P.load_paper(), "active-false")
    text = "\n".join(t.get_text() for t in fig.texts) + fig._suptitle.get_text()
    assert "Solaris" in text and "14-way" in text and "glibc" in text
    assert "cache-thrash" in text
    left = fig.axes[0]
    hoard = [ln for ln in left.get_lines() if ln.get_label() == "Hoard"][0]
    assert list(hoard.get_xdata()) == list(range(1, 15))


def test_table4_rows_and_definition(df):
    paper = P.load_paper()
    t = P.table4(df, paper)
    larson = t[t["our workload"] == "larson"].iloc[0]
    assert larson["paper A/U (Hoard, 14 procs)"] == 1.22
    assert larson["glibc"] == "failed"       # glibc failed at the largest thread count
    assert larson["halloc"] > 0
    md = P.table4_markdown(df, paper)
    assert "(peak RSS - baseline RSS) / peak live bytes" in md
    assert "| Larson | 1.22 | 8,162,600 | larson |" in md
    assert "prodcons" in md
