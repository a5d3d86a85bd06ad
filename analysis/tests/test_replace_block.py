"""scripts/replace_block.py, which `make instructions-readme` uses to put the instruction-count
table into README.md: only the text between the markers changes, and missing markers are an
error that leaves the file alone."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "replace_block.py"
spec = importlib.util.spec_from_file_location("replace_block", SCRIPT)
replace_block = importlib.util.module_from_spec(spec)
spec.loader.exec_module(replace_block)


def test_only_the_block_changes():
    text = "intro\n<!-- t:begin -->\nold\ntable\n<!-- t:end -->\noutro\n"
    assert (replace_block.replace_block(text, "t", "| a |\n|---|\n")
            == "intro\n<!-- t:begin -->\n| a |\n|---|\n<!-- t:end -->\noutro\n")


def test_missing_or_reversed_markers_are_errors():
    with pytest.raises(ValueError):
        replace_block.replace_block("no markers", "t", "x")
    with pytest.raises(ValueError):
        replace_block.replace_block("<!-- t:end --> <!-- t:begin -->", "t", "x")


def test_the_command_leaves_a_file_without_markers_alone(tmp_path):
    readme, source = tmp_path / "README.md", tmp_path / "table.md"
    readme.write_text("nothing to replace\n")
    source.write_text("| a |\n")
    done = subprocess.run([sys.executable, str(SCRIPT), str(readme), "t", str(source)],
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert "markers" in done.stderr
    assert readme.read_text() == "nothing to replace\n"
