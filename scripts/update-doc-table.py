#!/usr/bin/python3
"""Replaces a generated table in the documentation with the contents of a file.

    scripts/update-doc-table.py NAME FILE

One page among README.md and docs/*.md holds the table between `<!-- table: NAME -->` and
`<!-- /table: NAME -->`; everything between the two markers is replaced by FILE's text, so the
figures in the documentation are always the ones a run wrote, never typed by hand.
"""
import pathlib
import sys


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    name, source = sys.argv[1], pathlib.Path(sys.argv[2])
    root = pathlib.Path(__file__).resolve().parent.parent
    begin, end = f"<!-- table: {name} -->", f"<!-- /table: {name} -->"
    pages = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    holders = [p for p in pages if begin in (text := p.read_text()) and end in text]
    if len(holders) != 1:
        where = ", ".join(str(p.relative_to(root)) for p in holders) or "none of them"
        print(f"expected one page of README.md, docs/*.md with a '{begin}' ... '{end}' block, "
              f"found {where}", file=sys.stderr)
        return 1
    page = holders[0]
    head, rest = page.read_text().split(begin, 1)
    _, tail = rest.split(end, 1)
    page.write_text(f"{head}{begin}\n{source.read_text().strip()}\n{end}{tail}")
    print(f"{page.relative_to(root)}: table '{name}' replaced from {source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
