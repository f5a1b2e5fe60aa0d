"""`python -m devstack.auth --host H --port P`: serve the local Auth until SIGINT/SIGTERM."""

import sys

from devstack.auth.server import main

if __name__ == "__main__":
    sys.exit(main())
