"""dis_audit.birefnet without BiRefNet: alignment, the class loss, the epoch order, the log.

A stand-in for BiRefNet's ``MyData`` exposes what the adapter reads (``image_paths``,
``label_paths``, ``cls_name2id``, items ``(image, mask, class_label)``) and looks its label up the
way BiRefNet does, so a class outside its list raises as it would. The real code runs in
tests/test_birefnet_train.py.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

import dis_audit
from dis_audit.birefnet import BiRefNetClasses, manifest_vocabulary
from dis_audit.manifest import ManifestError
from dis_audit.testing import make_pair
from dis_audit.torch import ClassBalancedSampler

NAMES = {"DIS-TR": ["1#Accessories#6#Bag#1_a_o", "12#Sports#60#Kite#2_b_o", "1#Accessories#6#Bag#3_c_o"],
         "DIS-TE1": ["13#Insect#12#Snake#4_d_o"]}


class FakeMyData:
    """What the adapter touches of BiRefNet's MyData; ``__getitem__`` raises KeyError like it does."""

    def __init__(self, task: Path, order: list[str], known: list[str]) -> None:
        self.image_paths = [str(task / p) for p in order]
        self.label_paths = [p.replace("/im/", "/gt/")[:-4] + ".png" for p in self.image_paths]
        self.cls_name2id = {n: i for i, n in enumerate(known)}

    def __len__(self) -> int:
        return len(self.image_paths)

    def __getitem__(self, i: int):
        label = self.cls_name2id[Path(self.label_paths[i]).name.split("#")[3]]
        return torch.zeros(3, 4, 4), torch.zeros(1, 4, 4), label


@pytest.fixture()
def tree(tmp_path):
    task = tmp_path / "data" / "DIS5K"
    for ds, stems in NAMES.items():
        for stem in stems:
            make_pair(task, ds, stem)
    manifest = tmp_path / "data" / "DIS5K.manifest.parquet"
    dis_audit.scan(task, workers=1, extend_vocab=True).write_manifest(manifest)
    order = [f"DIS-TE1/im/{NAMES['DIS-TE1'][0]}.jpg", *[f"DIS-TR/im/{s}.jpg" for s in reversed(NAMES["DIS-TR"])]]
    return task, manifest, order


def test_labels_follow_mydata_order_and_the_extended_vocabulary(tree):
    task, manifest, order = tree
    vocab = manifest_vocabulary(manifest)
    assert len(vocab) == 220 and vocab[-1] == "Snake"  # BiRefNet's 219, then the --extend-vocab class
    data = FakeMyData(task, order, vocab[:219])
    classes = BiRefNetClasses(manifest, data)
    bag, kite = vocab.index("Bag"), vocab.index("Kite")
    assert classes.labels.tolist() == [219, bag, kite, bag]
    assert classes.difficulties.tolist() == ["DIS-TE1", "DIS-TR", "DIS-TR", "DIS-TR"]
    # BiRefNet's own lookup would raise KeyError on Snake; the item carries the manifest's id and its index.
    assert classes.dataset[0][2:] == (219, 0)
    kwargs = classes.dataloader_kwargs(2)
    batch = next(iter(torch.utils.data.DataLoader(**kwargs)))
    assert len(batch) == 4 and batch[-1].dtype == torch.int64
    assert batch[2].tolist() == classes.labels[batch[-1].numpy()].tolist()


def test_unknown_label_becomes_the_ignore_index(tree, tmp_path):
    task, _manifest, order = tree
    manifest = tmp_path / "plain.parquet"  # no --extend-vocab: Snake gets class_id -1
    dis_audit.scan(task, workers=1).write_manifest(manifest)
    classes = BiRefNetClasses(manifest, FakeMyData(task, order, manifest_vocabulary(manifest)))
    assert classes.labels[0] == -100 and len(classes.vocabulary) == 219
    assert classes.class_counts().sum() == 3


def test_an_image_missing_from_the_manifest_is_a_clear_error(tree):
    task, manifest, order = tree
    make_pair(task, "DIS-TR", "1#Accessories#6#Bag#9_z_o")  # added after the scan
    data = FakeMyData(task, [*order, "DIS-TR/im/1#Accessories#6#Bag#9_z_o.jpg"], [])
    with pytest.raises(ManifestError, match="re-run `dis-audit scan`"):
        BiRefNetClasses(manifest, data)


def test_class_loss_is_weighted_nan_free_and_sized_to_the_vocabulary(tree):
    task, manifest, order = tree
    classes = BiRefNetClasses(manifest, FakeMyData(task, order, []))
    loss = classes.loss(lambda_=5.0)
    logits = torch.randn(3, 220, requires_grad=True)
    y = torch.tensor([6, 219, -100])
    got = loss([logits], y, torch.tensor([1, 0, 2]))
    w = loss.weight
    ce = torch.nn.functional.cross_entropy(logits[:2], y[:2], reduction="none")
    want = 5.0 * (ce * w[y[:2]]).sum() / w[y[:2]].sum()
    assert got.item() == pytest.approx(want.item(), rel=1e-5)
    # All ignored: 0, finite, and still backpropagates (DDP needs every parameter in the graph).
    zero = loss([logits], torch.tensor([-100, -100, -1]))
    zero.backward()
    assert zero.item() == 0.0 and math.isfinite(zero.item()) and logits.grad is not None
    with pytest.raises(ValueError, match="class head has 219 outputs but the manifest has 220"):
        loss([torch.randn(2, 219)], torch.tensor([0, 1]))


def test_epoch_order_advances_by_itself_and_honours_set_epoch(tree):
    task, manifest, order = tree
    classes = BiRefNetClasses(manifest, FakeMyData(task, order, []), sampling="balanced", power=0.5, seed=3)
    classes.dataloader_kwargs(2)
    sampler = classes.sampler
    first, second = list(sampler), list(sampler)
    ref = ClassBalancedSampler(classes.labels, power=0.5, seed=3, num_replicas=1, rank=0)
    expect = []
    for epoch in (0, 1):
        ref.set_epoch(epoch)
        expect.append(ref.draw().tolist())
    assert [first, second] == expect
    sampler.set_epoch(0)  # what accelerate does before each pass
    assert list(sampler) == first
    # The accelerate form yields every rank's share, interleaved: accelerate deals out the batches.
    two = ClassBalancedSampler(classes.labels, power=0.5, seed=3, num_replicas=2, rank=1)
    whole = type(sampler)(two, whole=True)
    assert list(whole) == two.global_order().tolist() and len(whole) == len(two.global_order())
    assert list(two) == two.global_order()[1::2].tolist()


def test_difficulty_mix_comes_as_a_batch_sampler(tree):
    task, manifest, order = tree
    classes = BiRefNetClasses(manifest, FakeMyData(task, order, []), sampling="mix", mix={"DIS-TR": 1, "DIS-TE1": 1})
    kwargs = classes.dataloader_kwargs(2)
    assert "batch_sampler" in kwargs and "sampler" not in kwargs
    for batch in kwargs["batch_sampler"]:
        assert sorted(classes.difficulties[batch].tolist()) == ["DIS-TE1", "DIS-TR"]


def test_end_epoch_logs_per_class_and_per_folder_then_resets(tree):
    task, manifest, order = tree
    classes = BiRefNetClasses(manifest, FakeMyData(task, order, []))
    classes.dataloader_kwargs(2)
    loss = classes.loss()
    loss([torch.zeros(4, 220)], torch.tensor(classes.labels), torch.arange(4))
    lines: list[str] = []
    values = classes.end_epoch(lines.append)
    assert values["loss_cls/Snake"] == pytest.approx(math.log(220))
    assert lines[0].startswith("class loss per class: ") and "Snake 5.394" in lines[0]
    assert lines[1] == f"class loss per folder: DIS-TE1 {math.log(220):.4g}, DIS-TR {math.log(220):.4g}"
    assert classes.end_epoch(lines.append) == {} and len(lines) == 2


def test_bad_sampling_and_too_few_samples(tree):
    task, manifest, order = tree
    with pytest.raises(ValueError, match="sampling must be one of"):
        BiRefNetClasses(manifest, FakeMyData(task, order, []), sampling="random")
    with pytest.raises(ValueError, match="cannot fill one batch of 8"):
        BiRefNetClasses(manifest, FakeMyData(task, order, [])).dataloader_kwargs(8)



def test_a_symlinked_image_is_found_under_its_own_name(tmp_path):
    task = tmp_path / "data" / "DIS5K"
    make_pair(task, "DIS-TR", "1#Accessories#6#Bag#1_a_o")
    target, _ = make_pair(tmp_path / "elsewhere", "x", "12#Sports#60#Kite#5_e_o")
    link = task / "DIS-TR" / "im" / "12#Sports#60#Kite#2_b_o.jpg"
    link.symlink_to(target)
    make_pair(task, "DIS-TR", "12#Sports#60#Kite#2_b_o", image_ext=".png")  # the mask; the .png image is removed
    (task / "DIS-TR" / "im" / "12#Sports#60#Kite#2_b_o.png").unlink()
    manifest = tmp_path / "m.parquet"
    dis_audit.scan(task, workers=1).write_manifest(manifest)
    order = ["DIS-TR/im/12#Sports#60#Kite#2_b_o.jpg", "DIS-TR/im/1#Accessories#6#Bag#1_a_o.jpg"]
    vocab = manifest_vocabulary(manifest)
    classes = BiRefNetClasses(manifest, FakeMyData(task, order, vocab))
    assert classes.labels.tolist() == [vocab.index("Kite"), vocab.index("Bag")]
