"""Carry a training run to a GPU machine and back: ``python -m ragcompare.train.gpu`` under its old
name (see :mod:`ragcompare.train.gpu`)."""

import sys

from ragcompare.train.cli import gpu_main

if __name__ == "__main__":
    sys.exit(gpu_main(prog="python scripts/gpu_bundle.py"))
