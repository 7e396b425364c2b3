"""Does class-aware training help segmentation? A controlled experiment on generated data.

The data (:mod:`.data`): 20 classes of thin/complex DIS-like objects, a long-tailed
training split (150 down to 3 images per class, easy/medium/hard folders) and a balanced test
split from another seed. The pipeline is the one users run: ``dis_audit.scan`` (must be clean)
→ ``ManifestDataset`` → a sampler from ``dis_audit.torch`` → a small U-Net with an auxiliary class
head on the bottleneck. Every condition sees the same number of training samples:

    a  natural   natural order (a permutation per epoch), pixel loss only — BiRefNet's default.
                 The class head trains on detached features (a linear probe), so it reports an
                 accuracy without touching the segmentation network.
    b  aux       natural order + auxiliary CE (unweighted) into the backbone.
    c  balanced  ClassBalancedSampler(power=0.5) + CE weighted by class_weights(..., "effective").
    d  hard      HardExampleSampler fed the per-sample pixel loss every step, + aux CE.
    e  curriculum DifficultyMixBatchSampler whose mix moves from easy to hard, + aux CE.
    f  (ablation, not run by default) (c)'s sampler with the unweighted aux CE of (b).

Metrics on the balanced test set (threshold 0.5, full 256×256 resolution): per-class IoU (the
mean of per-image IoU over the class's test images), mean IoU over classes, mean IoU of the 5
rarest training classes and of the run's 5 worst classes, pooled pixel IoU, aux-head accuracy,
wall time. Per-class pixel and class losses are logged per epoch with PerClassLossTracker.

    python -m experiments.class_learning                # the full run (docs/class_learning.md)
    python -m experiments.class_learning --quick        # a smoke run in seconds

Writes ``results.json``, ``table.md`` and ``per_class_iou.svg`` into ``--out``. Modules: ``shapes`` and
``data`` (the generator), ``config`` (conditions, settings, the per-run record), ``model``, ``train``
(sampling order, one run), ``metrics`` (what only this experiment measures; per-image and per-class IoU
come from :mod:`dis_audit.torch.metrics`), ``report`` (tables, SVG) and ``run`` (the command line).
Run from the repository root.
"""
