"""``python -m sweeplab``: the command line."""

from sweeplab.cli import main

main()
