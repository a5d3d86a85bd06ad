"""The correctness gate end to end on real harness output: `allocbench sweep` over halloc, glibc,
a leaky toy allocator and two broken ones (harness/tests/test_allocators/toy_malloc.c) records
the gate's verdicts, and the leaderboard lists the broken ones as incorrect and does not rank
them, while the leaky one is ranked, last on memory. Needs the C++ build (`make test` builds it
before the Python tests; ALLOCBENCH_BUILD names another build folder)."""
import os
import subprocess
from pathlib import Path

import pytest

from analysis.leaderboard import incorrect_allocators, render_markdown, scores
from analysis.load import load_results

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("ALLOCBENCH_BUILD", ROOT / "build"))
ALLOCBENCH = BUILD / "bin" / "allocbench"
LIB = BUILD / "lib"
TOYS = ("misaligned", "calloc_dirty", "leaky")


def _built() -> bool:
    return ALLOCBENCH.exists() and all((LIB / f"libtoy_{t}.so").exists() for t in TOYS) and \
        (LIB / "libhalloc.so").exists()


@pytest.mark.skipif(not _built(), reason=f"{ALLOCBENCH} and the toy allocators are not built "
                                         "(make test builds them first)")
def test_a_real_sweep_grades_broken_allocators_as_incorrect_and_unranked(tmp_path):
    out = tmp_path / "grading"
    allocators = ",".join(["halloc", "glibc"] + [f"{t}={LIB / f'libtoy_{t}.so'}" for t in TOYS])
    subprocess.run([str(ALLOCBENCH), "sweep", "--workloads", "threadtest", "--threads", "1",
                    "--reps", "2", "--param", "objects=20000", "--param", "iterations=20",
                    "--allocators", allocators, "--no-micro", "--no-progress", "--out", str(out)],
                   check=True, capture_output=True, text=True, timeout=600)
    df = load_results([out])

    assert set(incorrect_allocators(df)) == {"misaligned", "calloc_dirty"}
    table = scores(df)
    assert set(table["allocator"]) == {"halloc", "glibc", "leaky"}
    # Wasteful is not wrong: the leaky allocator is ranked, and last on memory.
    memory = dict(zip(table["allocator"], table["memory_score"]))
    assert memory["leaky"] < min(memory["halloc"], memory["glibc"])

    text = render_markdown(df)
    incorrect = text[text.index("## Incorrect"):]
    for name, check in (("misaligned", "alignment"), ("calloc_dirty", "calloc")):
        assert f"### {name}: failed checks" in incorrect
        assert f"| {check} |" in incorrect
