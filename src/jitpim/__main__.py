"""`python -m jitpim` runs the CLI."""

from jitpim.cli import main

main()
