"""`python -m w2s ...`: the `w2s` command."""

import sys

from w2s.cli import main

sys.exit(main())
