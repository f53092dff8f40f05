"""``python -m ragcompare.train``: the training command line (:mod:`ragcompare.train.cli`)."""

import sys

from ragcompare.train.cli import main

sys.exit(main())
