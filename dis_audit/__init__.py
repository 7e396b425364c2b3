"""dis-audit: audit, relabel and train on BiRefNet / DIS5K-style segmentation datasets."""

__version__ = "0.1.0"
