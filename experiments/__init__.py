"""Experiments that measure whether dis-audit's training helpers pay off (not part of the installed package).

Run them from the repository root, e.g. ``python -m experiments.class_learning --quick``.
"""
