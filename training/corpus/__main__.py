"""``python -m training.corpus {build,split,stats,style,check}``: build, split, describe and check the corpus.

- ``build``: join the annotation and ``../shared/data`` into ``build/corpus.jsonl``;
- ``split``: choose test and dev documents once (``data/splits.json``; ``--force`` redraws,
  ``--new-split train`` puts a later round's documents in train);
- ``stats``: print the data card's tables (``--write`` puts them into ``data/DATACARD.md``);
- ``style``: the style measures of written against real text, and the written part's targets;
- ``check``: validate the built corpus.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from training.corpus import CORPUS, CorpusError, ensure_built, load_records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.corpus", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("build", "split", "stats", "style", "check"))
    parser.add_argument("--corpus", type=Path, default=CORPUS, help=f"the corpus file (default {CORPUS})")
    parser.add_argument("--write", action="store_true", help="stats: rewrite the tables in data/DATACARD.md")
    parser.add_argument("--force", action="store_true", help="split: replace the chosen splits")
    parser.add_argument("--new-split", choices=("train", "dev", "test"),
                        help="split: put every unassigned document in this split instead of drawing them")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            from training.corpus.build import build

            build(args.corpus)
        elif args.command == "split":
            from training.corpus.build import DATA, all_records
            from training.corpus.splits import write_splits

            write_splits(DATA / "splits.json", all_records(), force=args.force, new_split=args.new_split)
        elif args.command == "stats":
            from training.corpus.stats import print_or_write_stats

            print_or_write_stats(ensure_built(args.corpus), write=args.write)
        elif args.command == "style":
            from training.corpus.style import style_table

            table, missed = style_table(load_records(ensure_built(args.corpus)))
            print(table)
            print("\nwritten-text targets: " + ("all met" if not missed else "MISSED: " + "; ".join(missed)))
            return 0 if not missed else 1
        else:
            records = load_records(ensure_built(args.corpus))
            print(f"{args.corpus}: {len(records)} valid records")
    except CorpusError as exc:
        print(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
