"""``python -m sim.service serve|apps|parity``: the service's commands without the rest."""

import sys

from sim.service.cli import main

sys.exit(main())
