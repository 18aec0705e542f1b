"""``python -m model_pkg`` is the same as the ``model-pkg`` console script."""

import sys

from model_pkg.cli import main

if __name__ == "__main__":
    sys.exit(main())
