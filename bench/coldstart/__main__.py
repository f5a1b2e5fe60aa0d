"""`python -m bench.coldstart`: see bench/coldstart/__init__.py."""

import sys

from bench.coldstart import main

sys.exit(main())
