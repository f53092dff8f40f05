"""The setup every course notebook runs first: quiet libraries, one plotting style, the run announced."""

from __future__ import annotations

import warnings

from ragcompare.settings import quick_mode
from ragcompare.sysinfo import describe_machine, set_threads

FIGURE_RC = {"figure.dpi": 100, "savefig.dpi": 100, "figure.figsize": (7, 3.6)}
"""Matplotlib settings of every notebook figure (sizes in inches)."""

PANDAS_OPTIONS = {"display.precision": 3, "display.max_colwidth": 90}
"""Pandas display options of every notebook table."""


def setup_notebook(torch_threads: int | None = 1) -> bool:
    """Configure a notebook session, print what runs where, and return quick mode.

    Sets, in this order: transformers logging to errors only and its progress bars off; FutureWarnings
    ignored; matplotlib ``FIGURE_RC`` (dpi 100, 7 x 3.6 in figures); the seaborn theme (``whitegrid``
    style, ``notebook`` context); pandas ``PANDAS_OPTIONS`` (3 decimals, columns up to 90 characters);
    torch to ``torch_threads`` threads (one by default: on a small machine shared with other jobs, a
    second thread per process oversubscribes the cores and timings become erratic; ``None`` keeps
    torch's default). Then prints ``quick mode`` or ``full mode`` (``RAGCOMPARE_QUICK``) and the machine
    description (``describe_machine``). Returns True in quick mode: fewer queries, same collections, same
    models.
    """
    import matplotlib.pyplot as plt
    import pandas as pd
    import seaborn as sns
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", category=FutureWarning)
    plt.rcParams.update(FIGURE_RC)
    sns.set_theme(style="whitegrid", context="notebook")
    for option, value in PANDAS_OPTIONS.items():
        pd.set_option(option, value)
    if torch_threads is not None:
        torch.set_num_threads(torch_threads)
    quick = quick_mode()
    print("quick mode" if quick else "full mode")
    print(describe_machine())
    return quick


def pin_threads(threads: int = 1) -> int:
    """Run torch and FAISS on ``threads`` threads, print the count, and return it for ONNX Runtime.

    With more threads than free cores (another job on a shared machine) torch slows down dramatically;
    comparisons that give baseline and optimized variants the same count, interleaved, stay fair.
    """
    counts = set_threads(threads)
    print(f"torch threads: {counts['torch']}, ONNX Runtime intra-op threads: {threads}")
    return threads
