"""`python -m devstack.devserver`: serve `--root` until interrupted."""

import sys

from devstack.devserver.server import main

sys.exit(main())
