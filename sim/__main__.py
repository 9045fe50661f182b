"""``python -m sim``: the promptsim command line."""

import sys

from sim.cli import main

sys.exit(main())
