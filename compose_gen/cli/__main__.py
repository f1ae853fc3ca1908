"""`python -m compose_gen.cli`: the same as the `compose-gen` command."""

import sys

from compose_gen.cli import main

sys.exit(main())
