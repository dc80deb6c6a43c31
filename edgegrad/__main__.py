"""Run the command line with ``python -m edgegrad``."""

from edgegrad_cli.launch import main

main(prog_name="edgegrad")
