"""`python -m batchery` is the `batchery` command."""

from batchery.cli import main

main()
