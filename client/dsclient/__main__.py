"""Entry point for ``python -m dsclient`` and the ``dsclient`` console script."""

import sys

from dsclient.cli import main


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
