"""Move the ``champion`` alias to a registered version only if it is not worse than the champion.

    python -m training.promote [--name diplomatic-events] [--version N] [--split dev] [--margin 0.01]

Without ``--version`` the ``candidate`` (the latest trained) is considered. Candidate and
champion label the same real split through the serving code; a paired bootstrap over
documents must rule out, at 95% confidence, a drop of more than ``--margin`` in sentence
micro-F1 and in document micro-F1 (see ``training.gate``). The evidence is printed either
way; a refusal exits 1.

Example:
    >>> main(["--name", "no-such-model"])  # doctest: +ELLIPSIS
    not promoted: ...no-such-model...
    1
"""

from __future__ import annotations

import argparse
from pathlib import Path

from training import gate, tracking

DEFAULT_NAME = "diplomatic-events"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.promote", description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default=DEFAULT_NAME, help="registered model name")
    parser.add_argument("--version", help="version to promote (default: the @candidate)")
    parser.add_argument("--split", choices=("dev", "test"), default="dev",
                        help="real split both models label (default dev: models are chosen on dev)")
    parser.add_argument("--margin", type=float, default=gate.DEFAULT_MARGIN,
                        help="largest drop in micro-F1 tolerated, ruled out at 95%% confidence (default %(default)s)")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (default %(default)s)")
    parser.add_argument("--corpus", type=Path, default=Path("build/corpus.jsonl"), help="the built corpus")
    args = parser.parse_args(argv)
    if args.margin < 0 or args.resamples < 1:
        parser.error("--margin must be at least 0 and --resamples at least 1")
    tracking.setup_registry()

    def judge(candidate: str, champion: str) -> tuple[bool, str]:
        verdict = gate.judge_versions(args.name, candidate, champion, args.corpus, args.split, args.margin,
                                      args.resamples)
        return verdict.passed, verdict.evidence

    outcome = tracking.promote(args.name, args.version, judge)
    print(("promoted: " if outcome.promoted else "not promoted: ") + outcome.reason)
    return 0 if outcome.promoted else 1


if __name__ == "__main__":
    raise SystemExit(main())
