"""Every registered family on the same data and budget, one table: ``genjax leaderboard``.

    python -m benchmarks.leaderboard --quick                       # a few hundred steps, every family
    python -m benchmarks.leaderboard --out benchmarks/results       # the README table (see docs/leaderboard.md)

The options and what the table holds: ``genjax leaderboard --help`` and ``genjax/leaderboard.py``.
"""

import sys

from genjax.cli import main

if __name__ == "__main__":
    sys.exit(main(["leaderboard", *sys.argv[1:]]))
