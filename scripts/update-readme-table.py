#!/usr/bin/python3
"""Replaces a generated table in README.md with the contents of a file.

    scripts/update-readme-table.py NAME FILE

The README holds the table between `<!-- table: NAME -->` and `<!-- /table: NAME -->`;
everything between the two markers is replaced by FILE's text, so the figures in the README
are always the ones a run wrote, never typed by hand.
"""
import pathlib
import sys


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    name, source = sys.argv[1], pathlib.Path(sys.argv[2])
    readme = pathlib.Path(__file__).resolve().parent.parent / "README.md"
    text = readme.read_text()
    begin, end = f"<!-- table: {name} -->", f"<!-- /table: {name} -->"
    if begin not in text or end not in text:
        print(f"README.md has no '{begin}' ... '{end}' block", file=sys.stderr)
        return 1
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{begin}\n{source.read_text().strip()}\n{end}{tail}")
    print(f"README.md: table '{name}' replaced from {source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
