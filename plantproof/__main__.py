"""`python -m plantproof` is the `plantproof` command."""

from plantproof.cli import main

main()
