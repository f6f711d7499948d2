"""``python -m calibrate``: the same entry point as the ``calibrate`` command."""

from calibrate.cli import main

main()
