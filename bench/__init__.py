"""The benchmark suite: ``python -m bench`` (``--smoke`` for the CI run, ``--help`` for the options).

It starts the billing emulator and the servers under test as separate processes and reports ratios
from one interleaved run; see bench/RESULTS.md for the last full run.
"""
