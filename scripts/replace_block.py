"""Replaces the text between `<!-- NAME:begin -->` and `<!-- NAME:end -->` in FILE with the
contents of SOURCE (how `make instructions-readme` puts a fresh table into README.md)."""
import sys
from pathlib import Path


def replace_block(text: str, name: str, block: str) -> str:
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    start, stop = text.find(begin), text.find(end)
    if start < 0 or stop < start:
        raise ValueError(f"no '{begin}' ... '{end}' markers, in that order")
    return text[: start + len(begin)] + "\n" + block.strip("\n") + "\n" + text[stop:]


def main() -> int:
    if len(sys.argv) != 4:
        print("usage: replace_block.py FILE NAME SOURCE", file=sys.stderr)
        return 2
    path, name, source = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    try:
        path.write_text(replace_block(path.read_text(), name, source.read_text()))
    except (OSError, ValueError) as error:
        print(f"replace_block: {path}: {error}", file=sys.stderr)
        return 1
    print(f"replace_block: {path}: '{name}' block replaced from {source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
