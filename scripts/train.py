"""Train, evaluate and pack the ragcompare cross-encoders: ``python -m ragcompare.train`` under its old
name (see :mod:`ragcompare.train.cli`; ``--help`` lists the subcommands)."""

import sys

from ragcompare.train.cli import main

if __name__ == "__main__":
    sys.exit(main(prog="python scripts/train.py"))
