import math

import pytest

from analysis import compare as C
from analysis.__main__ import main
from analysis.load import load_results
from analysis.tests.synthetic import make_check, make_doc, make_run, write

MiB = 1 << 20


def _runs(speed: dict, rss: dict | None = None, reps=5, cells=(("w", 1), ("w", 2), ("v", 1)),
          jitter=0.02, status=None):
    """Runs whose throughput is speed[a] x (1 +- jitter) over the repetitions."""
    R = []
    for w, t in cells:
        for a, s in speed.items():
            for r in range(reps):
                f = 1 + jitter * ((r % 3) - 1)
                st = (status or {}).get((w, t, a), "ok")
                R.append(make_run(w, a, t, r, status=st, throughput=s * f,
                                  peak_rss=(rss or {}).get(a, 10 * MiB) * f))
    return R


def _dir(tmp_path, name, runs, **kw):
    d = tmp_path / name
    write(make_doc(runs, **kw), d / "run.json")
    return d


def test_parse_threshold():
    assert C.parse_threshold("5%") == pytest.approx(0.05)
    assert C.parse_threshold("0.05") == pytest.approx(0.05)
    assert C.parse_threshold("10") == pytest.approx(0.10)
    for bad in ("fast", "0", "150%", "-5%"):
        with pytest.raises(ValueError):
            C.parse_threshold(bad)


def test_same_run_is_no_regression(tmp_path, capsys):
    d = _dir(tmp_path, "a", _runs({"halloc": 100, "glibc": 80}))
    assert main(["compare", str(d), str(d)]) == 0
    out = capsys.readouterr().out
    assert "no significant regression (exit status 0)" in out
    cells, allocs = C.compare(load_results([d]), load_results([d]))
    assert (allocs["thr_ratio"] == 1.0).all() and (allocs["rss_ratio"] == 1.0).all()
    assert (allocs["thr_lo"] < 1.0).all() and (allocs["thr_hi"] > 1.0).all()  # real intervals
    assert set(allocs["thr_verdict"]) == {"same"} and not allocs["regression"].any()
    assert len(cells) == 6   # 3 cells x 2 allocators


def test_clearly_slower_b_exits_1_and_names_the_allocator(tmp_path, capsys):
    a = _dir(tmp_path, "a", _runs({"halloc": 100, "glibc": 80}))
    b = _dir(tmp_path, "b", _runs({"halloc": 70, "glibc": 80}))
    assert main(["compare", str(a), str(b)]) == 1
    out = capsys.readouterr().out
    assert "1 regression(s): halloc" in out
    _, allocs = C.compare(load_results([a]), load_results([b]))
    h = allocs.set_index("allocator").loc["halloc"]
    assert h["thr_ratio"] == pytest.approx(0.7, rel=0.01)
    assert h["thr_hi"] < 0.95 and h["thr_verdict"] == "SLOWER"
    assert allocs.set_index("allocator").loc["glibc", "thr_verdict"] == "same"


def test_a_small_change_inside_the_threshold_passes(tmp_path):
    a = _dir(tmp_path, "a", _runs({"halloc": 100}))
    b = _dir(tmp_path, "b", _runs({"halloc": 97}))   # 3% slower: below the 5% threshold
    assert main(["compare", str(a), str(b)]) == 0
    assert main(["compare", str(a), str(b), "--threshold", "1%"]) == 1


def test_faster_b_is_not_a_regression_but_larger_memory_is(tmp_path):
    a = _dir(tmp_path, "a", _runs({"halloc": 100}, {"halloc": 10 * MiB}))
    b = _dir(tmp_path, "b", _runs({"halloc": 150}, {"halloc": 10 * MiB}))
    assert main(["compare", str(a), str(b)]) == 0
    c = _dir(tmp_path, "c", _runs({"halloc": 100}, {"halloc": 14 * MiB}))
    _, allocs = C.compare(load_results([a]), load_results([c]))
    assert allocs.iloc[0]["rss_verdict"] == "LARGER"
    assert main(["compare", str(a), str(c)]) == 1


def test_a_cell_failing_only_in_b_is_a_regression(tmp_path):
    a = _dir(tmp_path, "a", _runs({"halloc": 100, "glibc": 80}))
    b = _dir(tmp_path, "b", _runs({"halloc": 100, "glibc": 80},
                                  status={("w", 2, "halloc"): "corrupt"}))
    cells, allocs = C.compare(load_results([a]), load_results([b]))
    h = allocs.set_index("allocator").loc["halloc"]
    assert h["newly_failed"] == ["w 2t"] and h["regression"] and h["cells"] == 2
    assert "FAILED in B only" in set(cells["note"])
    assert main(["compare", str(a), str(b)]) == 1


def test_failing_the_gate_in_b_is_a_regression(tmp_path):
    runs = _runs({"halloc": 100})
    a = _dir(tmp_path, "a", runs, checks={"halloc": make_check()})
    b = _dir(tmp_path, "b", runs, checks={"halloc": make_check(False, [("calloc_zeroed",
                                                                       "byte 8 is 0x5a")])})
    _, allocs = C.compare(load_results([a]), load_results([b]))
    assert allocs.iloc[0]["gate"] == "passed in A, failed in B" and allocs.iloc[0]["regression"]


def test_pair_compares_two_allocators_of_one_run(tmp_path, capsys):
    d = _dir(tmp_path, "a", _runs({"halloc-paper": 50, "halloc": 100}))
    assert main(["compare", str(d), str(d), "--pair", "halloc-paper:halloc"]) == 0
    out = capsys.readouterr().out
    assert "| halloc-paper -> halloc | 3 | 2.000 [" in out and "faster" in out
    assert main(["compare", str(d), str(d), "--pair", "halloc:halloc-paper"]) == 1


def test_bad_input_exits_2(tmp_path, capsys):
    d = _dir(tmp_path, "a", _runs({"halloc": 100}))
    e = _dir(tmp_path, "e", _runs({"jemalloc": 100}))
    assert main(["compare", str(d), str(tmp_path / "missing")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["compare", str(d), str(d), "--threshold", "lots"]) == 2
    assert "--threshold" in capsys.readouterr().err
    assert main(["compare", str(d), str(e)]) == 2
    assert "no allocator in common" in capsys.readouterr().err
    assert main(["compare", str(d), str(d), "--pair", "halloc:nope"]) == 2
    assert "nope (not in run B)" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["compare", str(d)])
    assert exc.value.code == 2


def test_report_states_conditions_and_differences(tmp_path, capsys):
    a = _dir(tmp_path, "a", _runs({"halloc": 100}), config={"params": []},
             machine={"git_dirty": False})
    b = _dir(tmp_path, "b", _runs({"halloc": 100}), config={"params": ["larson.slots=10"]},
             machine={"git_dirty": True})
    out_file = tmp_path / "cmp.md"
    assert main(["compare", str(a), str(b), "--out", str(out_file)]) == 0
    text = out_file.read_text()
    assert text.startswith("# Compare: B = ") and text in capsys.readouterr().out
    assert "**B: DIRTY" in text and "**B: NON-DEFAULT PARAMETERS: larson.slots=10" in text
    assert "The runs differ in: params: [] vs ['larson.slots=10']" in text
    assert "Threshold 5.0%" in text


def test_cells_only_in_one_run_are_left_out(tmp_path):
    a = _dir(tmp_path, "a", _runs({"halloc": 100}, cells=(("w", 1), ("w", 2))))
    b = _dir(tmp_path, "b", _runs({"halloc": 100}, cells=(("w", 2), ("w", 4))))
    cells, allocs = C.compare(load_results([a]), load_results([b]))
    assert list(zip(cells["workload"], cells["threads"])) == [("w", 2)]
    assert allocs.iloc[0]["cells"] == 1 and not math.isnan(allocs.iloc[0]["thr_ratio"])
