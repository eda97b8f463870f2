"""``python -m fastbias``: the same command line as ``fastbias``."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
