#!/usr/bin/env python3
"""`make bench` and `make profile`: the command line of the spoolbench package beside this
file (scripts/spoolbench/, whose __init__.py says what is measured and how)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from spoolbench.__main__ import main  # noqa: E402

if __name__ == "__main__":
    main()
