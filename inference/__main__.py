"""``python -m inference``: see :mod:`inference.cli`."""

from inference.cli import main

raise SystemExit(main())
