"""PyInstaller's entry script for the frozen app: the same `main` as `python -m desktop`.

A script of its own because PyInstaller runs its entry as `__main__`, not as a package module.
"""

import sys

from desktop.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
