"""``python -m experiments.class_learning``: see :mod:`experiments.class_learning.run`."""

import sys

from .run import main

sys.exit(main())
