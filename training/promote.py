"""Move the ``champion`` alias to a registered version if it is at least as good as the champion.

    python -m training.promote [--name diplomatic-events] [--version N]

Without ``--version`` the ``candidate`` (the latest trained) is considered. The comparison
uses ``test_macro_f1`` of each version's run; a refusal says why and exits 1.

Example:
    >>> main(["--name", "no-such-model"])  # doctest: +ELLIPSIS
    not promoted: ...no-such-model...
    1
"""

from __future__ import annotations

import argparse

from training import tracking

DEFAULT_NAME = "diplomatic-events"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.promote", description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default=DEFAULT_NAME, help="registered model name")
    parser.add_argument("--version", help="version to promote (default: the @candidate)")
    args = parser.parse_args(argv)
    tracking.setup_registry()
    outcome = tracking.promote(args.name, args.version)
    print(("promoted: " if outcome.promoted else "not promoted: ") + outcome.reason)
    return 0 if outcome.promoted else 1


if __name__ == "__main__":
    raise SystemExit(main())
