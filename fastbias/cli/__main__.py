"""``python -m fastbias.cli``: the same as the ``fastbias`` command."""

import sys

from . import main

sys.exit(main())
