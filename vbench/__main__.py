"""``python -m vbench`` (and ``torchrun -m vbench``) runs the command line."""

from vbench.cli import main

main()
