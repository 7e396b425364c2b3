"""class_weights against hand-computed values; PerClassLossTracker against direct means; DDP."""

from __future__ import annotations

import multiprocessing as mp
import os
import socket

import numpy as np
import pandas as pd
import pytest
import torch
from rich.console import Console

from dis_audit.torch import HardExampleSampler, PerClassLossTracker, class_weights

COUNTS = [1, 4, 0, 16]


def test_class_weights_hand_computed():
    # inverse: raw 1, 1/4, -, 1/16 (sum 1.3125); three present classes -> scale 3 / 1.3125
    torch.testing.assert_close(
        class_weights(COUNTS, "inverse"), torch.tensor([2.285714, 0.571429, 0.0, 0.142857]), atol=1e-5, rtol=0
    )
    # sqrt: raw 1, 1/2, -, 1/4 (sum 1.75) -> scale 3 / 1.75
    torch.testing.assert_close(
        class_weights(COUNTS, "sqrt"), torch.tensor([1.714286, 0.857143, 0.0, 0.428571]), atol=1e-5, rtol=0
    )
    # effective, beta 0.9: 0.1/(1-0.9) = 1, 0.1/(1-0.6561) = 0.290782, 0.1/(1-0.9^16) = 0.122745
    # sum 1.413527 -> scale 3 / 1.413527
    torch.testing.assert_close(
        class_weights(COUNTS, "effective", beta=0.9),
        torch.tensor([2.122351, 0.617140, 0.0, 0.260507]),
        atol=1e-5,
        rtol=0,
    )
    w = class_weights(np.array([84, 1, 30]), "effective", beta=0.999)
    assert w.dtype == torch.float32 and float(w.sum()) == pytest.approx(3.0)
    assert w[1] > w[2] > w[0]
    # beta = 0: every present class weighs the same
    torch.testing.assert_close(class_weights(COUNTS, "effective", beta=0.0), torch.tensor([1.0, 1.0, 0.0, 1.0]))
    loss = torch.nn.CrossEntropyLoss(weight=class_weights(COUNTS))  # the intended consumer
    assert torch.isfinite(loss(torch.randn(5, 4), torch.tensor([0, 1, 3, 3, 1])))


def test_class_weights_errors():
    with pytest.raises(ValueError, match="scheme"):
        class_weights(COUNTS, "log")
    with pytest.raises(ValueError, match="every class count is zero"):
        class_weights([0, 0])
    with pytest.raises(ValueError, match="non-negative"):
        class_weights([1, -2])
    with pytest.raises(ValueError, match="beta"):
        class_weights(COUNTS, "effective", beta=1.0)


NAMES = ["Airplane", "Ant", "Antenna", "Anvil"]


def test_tracker_equals_direct_per_class_mean():
    rng = np.random.default_rng(0)
    tracker = PerClassLossTracker(NAMES, momentum=0.5)
    frames = []
    for _ in range(5):
        ids = rng.integers(-1, 4, 16)
        ids[ids == -1] = -100  # ignore_index rows count for difficulty only
        loss = rng.random(16) * (1 + ids.clip(0))
        diff = rng.choice(["easy", "hard"], 16).tolist()
        tracker.update(torch.tensor(loss), torch.tensor(ids), difficulty=diff, loss="cls")
        tracker.update(torch.tensor(loss * 2), ids.tolist(), loss="seg")
        frames.append(pd.DataFrame({"id": ids, "loss": loss, "diff": diff}))
    df = pd.concat(frames)
    labelled = df[df.id >= 0]
    expected = labelled.groupby("id").loss.mean()
    out = tracker.compute()
    for cid, mean in expected.items():
        assert out[f"loss_cls/{NAMES[cid]}"] == pytest.approx(mean)
        assert out[f"loss_seg/{NAMES[cid]}"] == pytest.approx(2 * mean)
    for d, mean in df.groupby("diff").loss.mean().items():
        assert out[f"loss_cls_difficulty/{d}"] == pytest.approx(mean)
    frame = tracker.to_frame()
    assert list(frame.index) == NAMES
    np.testing.assert_array_equal(frame["count_cls"].to_numpy(), labelled.groupby("id").size().reindex(range(4), fill_value=0))
    assert tracker.to_frame("difficulty").loc["hard", "count_cls"] == (df["diff"] == "hard").sum()


def test_tracker_ema_and_table():
    tracker = PerClassLossTracker(NAMES, momentum=0.9)
    tracker.update(torch.tensor([1.0, 3.0, 0.1]), torch.tensor([1, 1, 0]))
    tracker.update(torch.tensor([5.0]), torch.tensor([1]))
    ema = tracker.compute("ema")
    assert ema["loss_cls/Ant"] == pytest.approx(0.9 * 2.0 + 0.1 * 5.0)  # batch means 2, then 5
    assert ema["loss_cls/Airplane"] == pytest.approx(0.1)
    assert "loss_cls/Antenna" not in ema  # unseen classes are left out
    console = Console(width=120, record=True)
    console.print(tracker.table(k=1))
    text = console.export_text()
    assert "Ant " in text and "Airplane" not in text  # the single worst class only
    printed = str(tracker.table(k=2))  # what print() shows: the table, not '<rich.table.Table object>'
    assert "Ant" in printed and "Airplane" in printed and "object at" not in printed
    assert "2 worst classes" in printed
    frame = tracker.to_frame()
    assert list(frame.index) == ["Airplane", "Ant"]  # only the classes seen, in id order
    assert list(tracker.to_frame(all_classes=True).index) == NAMES
    with pytest.raises(ValueError, match="beyond the 4 class names"):
        tracker.update(torch.tensor([1.0]), torch.tensor([4]))
    with pytest.raises(ValueError, match="reduction='none'"):
        tracker.update(torch.tensor([1.0, 2.0]), torch.tensor([1]))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, port: int, queue) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.distributed.init_process_group("gloo", rank=rank, world_size=2)
    try:
        labels = np.repeat(np.arange(4), 25)
        sampler = HardExampleSampler(labels, num_samples=64, seed=1)
        # each rank sees half the batch; only rank 1 sees the hard class 2
        if rank == 0:
            sampler.update(np.arange(0, 50), np.full(50, 1.0))
        else:
            sampler.update(np.arange(50, 100), np.where(labels[50:] == 2, 9.0, 1.0))
        sampler.set_epoch(1)
        tracker = PerClassLossTracker(NAMES)
        tracker.update(torch.tensor([float(rank + 1)] * 2), torch.tensor([rank, 3]))
        # String difficulties first seen in a different order on each rank: codes differ until all_reduce aligns them.
        tracker.update(torch.tensor([1.0, 5.0] if rank == 0 else [5.0, 3.0]), torch.tensor([0, 0]),
                       difficulty=["easy", "hard"] if rank == 0 else ["hard", "easy"], loss="seg")
        tracker.all_reduce()
        queue.put((rank, sampler.rank, sampler.draw().tolist(), sampler.probabilities().tolist(), tracker.compute()))
    finally:
        torch.distributed.destroy_process_group()


def test_ddp_two_processes_sync_weights_and_reduce_tracker():
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    port = _free_port()
    procs = [ctx.Process(target=_ddp_worker, args=(r, port, queue)) for r in range(2)]
    for p in procs:
        p.start()
    results = sorted(queue.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    (_, r0, draw0, prob0, out0), (_, r1, draw1, prob1, out1) = results
    assert (r0, r1) == (0, 1)
    assert prob0 == prob1  # both ranks hold the merged weights
    assert len(draw0) == len(draw1) == 32
    # one global draw: rebuilt in a single process from the merged updates
    labels = np.repeat(np.arange(4), 25)
    single = HardExampleSampler(labels, num_samples=64, seed=1)
    single.update(np.arange(0, 50), np.full(50, 1.0))
    single.update(np.arange(50, 100), np.where(labels[50:] == 2, 9.0, 1.0))
    single.set_epoch(1)
    glob = single.draw().tolist()
    assert draw0 == glob[0::2] and draw1 == glob[1::2]
    assert out0 == out1
    assert out0["loss_cls/Anvil"] == pytest.approx(1.5)  # class 3: 1 (rank 0) and 2 (rank 1)
    assert out0["loss_cls/Airplane"] == pytest.approx(1.0) and out0["loss_cls/Ant"] == pytest.approx(2.0)
    assert out0["loss_seg_difficulty/easy"] == pytest.approx(2.0) and out0["loss_seg_difficulty/hard"] == pytest.approx(5.0)
