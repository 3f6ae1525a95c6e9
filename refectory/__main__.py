"""`python -m refectory` is the `refectory` command."""

from .cli import main

main()
