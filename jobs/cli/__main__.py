"""``python -m jobs.cli``: the ``territory-sync`` command."""

from __future__ import annotations

import sys

from jobs.cli import main

sys.exit(main())
