"""Run the command line with ``python -m edgegrad``."""

from edgegrad_cli.main import main

main(prog_name="edgegrad")
