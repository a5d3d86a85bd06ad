"""End to end through the CLI, on synthetic results shaped like a teacher's grading run: correct
allocators, broken ones the gate caught, one whose runs were corrupt, a leaky one, a tie, then
the same sweep as shards (one interrupted, one missing, one from another sweep), and compare."""
import json
import re

import pytest

from analysis.__main__ import main
from analysis.tests.synthetic import make_check, make_doc, make_micro, make_run, write

MiB = 1 << 20
CELLS = [("larson", 1), ("larson", 2), ("threadtest", 1), ("threadtest", 2)]
# allocator -> (throughput, peak RSS)
MODEL = {"halloc": (100, 10 * MiB), "glibc": (60, 12 * MiB), "jemalloc": (59.7, 11 * MiB),
         "leaky": (110, 300 * MiB), "misaligned": (500, 8 * MiB),
         "overlap-mt": (400, 9 * MiB), "flaky": (90, 10 * MiB)}
CHECKS = {
    "halloc": make_check(), "glibc": make_check(), "jemalloc": make_check(),
    "leaky": make_check(), "flaky": None,
    "misaligned": make_check(False, [("alignment", "aligned_alloc(64, 100) returned "
                                      "0x7f3a00001008: not a multiple of 64")]),
    "overlap-mt": make_check(False, [("overlap_threads", "threads 1 and 3 hold overlapping "
                                      "blocks [0x7f00, +64) and [0x7f20, +64)")]),
}


def _runs(scale=1.0, reps=5):
    R = []
    for w, t in CELLS:
        for a, (thr, rss) in MODEL.items():
            for r in range(reps):
                f = 1 + 0.01 * ((r % 3) - 1)
                status, error = "ok", None
                if a == "flaky" and (w, t) == ("larson", 2) and r == 0:
                    status = "corrupt"
                    error = ("verify: block 812 (64 bytes at 0x7f0000a0) byte 17 is 0x00, "
                             "expected 0xa5, in /home/student/submissions/flaky/libflaky.so")
                extra = {"error": error} if error else {}
                R.append(make_run(w, a, t, r, status, throughput=thr * f * scale,
                                  peak_rss=rss * f, **extra))
    return R


def _doc(runs, **kw):
    micro = {a: make_micro({"malloc_free/16/real_time/threads:1": 8.0 * (i + 1)})
             for i, a in enumerate(MODEL)}
    return make_doc(runs, workloads=sorted({w for w, _ in CELLS}), allocators=list(MODEL),
                    threads=sorted({t for _, t in CELLS}), reps=5, checks=CHECKS, micro=micro,
                    config={"params": [], "verify": True, "check": True},
                    machine={"git_dirty": False, "git_commit": "0123456789ab"}, **kw)


@pytest.fixture(scope="module")
def grading(tmp_path_factory):
    d = tmp_path_factory.mktemp("grading") / "20261201-220000"
    write(_doc(_runs()), d / "run.json")
    return d


def _summary(md: str) -> dict[str, list[str]]:
    block = md.split("## Summary", 1)[1].split("\n## ", 1)[0]
    rows = [[c.strip() for c in line.strip("|").split("|")]
            for line in block.splitlines() if line.startswith("| ") and "---" not in line]
    return {r[1]: r for r in rows[1:]}


def test_grading_leaderboard(grading, capsys):
    assert main(["leaderboard", str(grading)]) == 0
    md = (grading / "leaderboard.md").read_text()
    page = (grading / "leaderboard.html").read_text()
    rows = _summary(md)
    assert set(rows) == set(MODEL)                         # one row per allocator
    # the two broken allocators: fastest of all, yet listed as incorrect and not ranked
    for a in ("misaligned", "overlap-mt"):
        assert rows[a][0] == "-" and rows[a][3] == "not ranked"
        assert rows[a][-3].startswith("INCORRECT")
    assert "| alignment | aligned_alloc(64, 100) returned 0x7f3a00001008: not a multiple of 64 |" \
        in md
    assert "threads 1 and 3 hold overlapping blocks" in md
    # leaky is correct and the fastest ranked one; flaky was not checked and said so
    assert rows["leaky"][0] == "1" and rows["leaky"][6] == "passed"
    assert rows["flaky"][6] == "not checked" and "flaky: not checked for correctness" in md
    # glibc and jemalloc differ by 0.5%, inside the noise of the intervals: a tie
    assert rows["glibc"][0] == rows["jemalloc"][0] and rows["glibc"][0].endswith("=")
    # the corrupt run counts as a failure, shown whole, grouped under its allocator
    assert rows["flaky"][7] == "1/4"
    assert "### flaky: 1 failed run(s)" in md
    assert "expected 0xa5, in /home/student/submissions/flaky/libflaky.so" in md
    assert '<td class="fail">FAIL' in page
    # micro numbers of the incorrect allocators are withheld
    micro = md.split("## Microbenchmarks", 1)[1]
    assert "| misaligned | not measured: failed the correctness gate (alignment): the speed " \
        "of a wrong allocator is not a result |" in micro
    head = micro.splitlines()[4]
    assert "misaligned" not in head and "halloc" in head


def test_grading_rank_by_memory_puts_the_leaky_allocator_last(grading):
    assert main(["leaderboard", str(grading), "--rank-by", "memory",
                 "--out", str(grading / "by-memory")]) == 0
    md = (grading / "by-memory" / "leaderboard.md").read_text()
    ranked = [r for r in _summary(md).values() if r[0] != "-"]
    assert ranked[-1][1] == "leaky"
    assert "Ranked by the memory score" in md


def test_grading_csv(grading):
    assert main(["csv", str(grading)]) == 0
    lines = (grading / "results.csv").read_text().splitlines()
    assert len(lines) == 1 + len(CELLS) * len(MODEL) * 5
    assert any(",corrupt," in line for line in lines)


def _partial(path, doc):
    head = {k: doc[k] for k in ("schema", "machine", "config", "allocators")}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([json.dumps({"header": head})]
                              + [json.dumps(r) for r in doc["runs"]]) + "\n")


def test_sharded_interrupted_and_mismatched(tmp_path, capsys):
    runs = _runs()
    d = tmp_path / "sharded"
    write(_doc(runs[0::3], shard=(1, 3)), d / "run.shard-1-of-3.json")
    _partial(d / "run.shard-2-of-3.json.partial.jsonl", _doc(runs[1::3][:10], shard=(2, 3)))
    assert main(["leaderboard", str(d)]) == 0
    err = capsys.readouterr().err
    assert "INCOMPLETE: shard(s) 3 of 3 are missing" in err and "PARTIAL" in err
    md = (d / "leaderboard.md").read_text()
    assert "**INCOMPLETE: shard(s) 3 of 3 are missing" in md
    assert re.search(r"\*\*PARTIAL: .*run\.shard-2-of-3\.json\.partial\.jsonl", md)
    page = (d / "leaderboard.html").read_text()
    assert "<p class=alert>PARTIAL" in page
    # a shard from another sweep (other commit) beside them: refused, exit 2, names the file
    other = _doc(runs[2::3], shard=(3, 3))
    other["machine"]["git_commit"] = "fedcba987654"
    write(other, d / "run.shard-3-of-3.json")
    assert main(["leaderboard", str(d)]) == 2
    err = capsys.readouterr().err
    assert "run.shard-3-of-3.json is not from the same sweep" in err
    assert "git commit (0123456789ab vs fedcba987654)" in err


def test_compare_exit_codes(grading, tmp_path, capsys):
    assert main(["compare", str(grading), str(grading)]) == 0
    slower = tmp_path / "slower"
    write(_doc(_runs(scale=0.8)), slower / "run.json")
    assert main(["compare", str(grading), str(slower)]) == 1
    out = capsys.readouterr().out
    assert "SLOWER" in out and "regression(s)" in out
