"""``dis_audit.birefnet``: class learning inside BiRefNet's own ``train.py`` (see docs/birefnet.md).

The code lives in :mod:`dis_audit.torch.birefnet`, the only layer allowed to import torch; this
module gives it the short name the guide's patch imports.
"""

from __future__ import annotations

from dis_audit.torch.birefnet import TRACE_ENV, BiRefNetClasses, ManifestClassLoss, manifest_vocabulary

__all__ = ["TRACE_ENV", "BiRefNetClasses", "ManifestClassLoss", "manifest_vocabulary"]
