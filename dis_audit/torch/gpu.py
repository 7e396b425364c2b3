"""Batch steps that run in the training process on the device: normalize and nvJPEG decode."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from ._decode import IMAGENET_MEAN, IMAGENET_STD, decode_image

#: ``decoder(list_of_encoded_uint8_tensors, device) -> list of uint8 C×H×W tensors``.
Decoder = Callable[[list[torch.Tensor], torch.device], list[torch.Tensor]]

GPU_EXTRA_HINT = "pip install 'dis-audit[gpu]'"


def _normalize(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    # (x/255 - mean)/std as one fused multiply-add per element.
    scale = 1.0 / (255.0 * std)
    return torch.addcmul(-mean / std, images.to(dtype), scale)


class GpuNormalize:
    """Turn a uint8 batch (from ``output="uint8"``) into the normalized float batch on ``device``.

    Called on a tensor ``B×3×H×W`` it returns the normalized images. Called on a batch tuple
    ``(images, masks, class_ids, *rest)`` it returns images normalized, masks as float in
    [0, 1], class ids moved to the device, the rest untouched. Shipping uint8 over the
    DataLoader queue and PCIe is 4× fewer bytes than float32, and the arithmetic is free on
    the device.
    """

    def __init__(
        self,
        device: str | torch.device | None = None,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        dtype: torch.dtype = torch.float32,
        non_blocking: bool = True,
    ) -> None:
        self.device = torch.device(device) if device is not None else None
        self.dtype = dtype
        self.non_blocking = non_blocking
        self._mean = torch.tensor(mean, dtype=dtype).view(1, -1, 1, 1)
        self._std = torch.tensor(std, dtype=dtype).view(1, -1, 1, 1)

    def _to(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.device is None else x.to(self.device, non_blocking=self.non_blocking)

    def images(self, images: torch.Tensor) -> torch.Tensor:
        """Normalize a uint8 ``B×3×H×W`` (or ``3×H×W``) tensor."""
        x = self._to(images)
        mean, std = self._mean.to(x.device), self._std.to(x.device)
        if x.ndim == 3:
            mean, std = mean[0], std[0]
        return _normalize(x, mean, std, self.dtype)

    def __call__(self, batch: torch.Tensor | Sequence[Any]) -> Any:
        if isinstance(batch, torch.Tensor):
            return self.images(batch)
        images, masks, class_ids, *rest = batch
        masks = self._to(masks).to(self.dtype).div_(255.0)
        return (self.images(images), masks, self._to(class_ids), *rest)


def _torchvision_decoder() -> Decoder:
    try:
        from torchvision.io import ImageReadMode, decode_jpeg
    except ImportError as exc:  # also covers a torchvision built for another torch
        raise ImportError(
            f"GpuDecode needs torchvision for nvJPEG decoding ({exc}); install it with: {GPU_EXTRA_HINT}"
        ) from exc

    def decode(data: list[torch.Tensor], device: torch.device) -> list[torch.Tensor]:
        return list(decode_jpeg(data, mode=ImageReadMode.RGB, device=device))

    return decode


class GpuDecode:
    """Decode a ``decode="gpu"`` batch on the device, resize and normalize it there.

    Input: the output of ``collate_encoded`` — ``(images, masks, class_ids[, info])`` where
    each image is either encoded JPEG bytes (1-D uint8) or an already decoded uint8
    ``3×H×W`` tensor (the dataset decodes non-JPEG files on the CPU). Output:
    ``(images float B×3×H×W normalized, masks float B×1×H×W in [0, 1], class_ids[, info])``
    on ``device``; with ``output="uint8"`` the images stay uint8 (rounded).

    The JPEGs of a batch go to the decoder in one call (nvJPEG batches them); if that call
    fails (an unsupported JPEG flavour), each image is retried alone and, failing that,
    decoded on the CPU with Pillow. Resizing is bilinear with antialiasing, as on the CPU
    path.

    Args:
        size: ``(width, height)`` of the output, the same as the dataset's.
        device: where to decode; default ``"cuda"``.
        decoder: injectable ``decoder(list_of_encoded, device) -> list of uint8 C×H×W``;
            default ``torchvision.io.decode_jpeg`` (needs ``dis-audit[gpu]``), which is
            imported here, so a missing torchvision fails at construction.
    """

    def __init__(
        self,
        size: tuple[int, int] | int,
        device: str | torch.device = "cuda",
        decoder: Decoder | None = None,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        output: str = "float",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        if output not in ("float", "uint8"):
            raise ValueError(f"output must be 'float' or 'uint8', not {output!r}")
        if isinstance(size, int):
            size = (size, size)
        self.size = (int(size[0]), int(size[1]))
        self.device = torch.device(device)
        self.decoder: Decoder = decoder if decoder is not None else _torchvision_decoder()
        self.output = output
        self.dtype = dtype
        self._normalize = GpuNormalize(self.device, mean, std, dtype)
        self.cpu_fallbacks = 0  # images the decoder refused, decoded by Pillow instead

    def _decode_jpegs(self, data: list[torch.Tensor]) -> list[torch.Tensor]:
        try:
            return self.decoder(data, self.device)
        except RuntimeError:
            pass
        out = []
        for item in data:
            try:
                out.append(self.decoder([item], self.device)[0])
            except RuntimeError:
                self.cpu_fallbacks += 1
                out.append(decode_image(item.numpy().tobytes(), self.size, mode="RGB").to(self.device))
        return out

    def _resize(self, image: torch.Tensor) -> torch.Tensor:
        """uint8 C×h×w on the device → float 3×H×W in [0, 255]."""
        w, h = self.size
        if image.shape[0] == 1:  # grayscale from a custom decoder
            image = image.expand(3, -1, -1)
        x = image.to(self.dtype)
        if tuple(x.shape[-2:]) != (h, w):
            x = F.interpolate(x[None], size=(h, w), mode="bilinear", align_corners=False, antialias=True)[0]
        return x

    def __call__(self, batch: Sequence[Any]) -> tuple:
        images, masks, class_ids, *rest = batch
        slots: list[torch.Tensor | None] = [None] * len(images)
        encoded = [(k, img) for k, img in enumerate(images) if img.ndim == 1]
        if encoded:
            decoded = self._decode_jpegs([img for _, img in encoded])
            for (k, _), img in zip(encoded, decoded):
                slots[k] = self._resize(img)
        for k, img in enumerate(images):
            if img.ndim != 1:
                slots[k] = self._resize(img.to(self.device, non_blocking=True))
        x = torch.stack(slots)  # type: ignore[arg-type]
        if self.output == "uint8":
            x = x.round_().clamp_(0, 255).to(torch.uint8)
        else:
            mean = self._normalize._mean.to(x.device)
            std = self._normalize._std.to(x.device)
            x = (x / 255.0 - mean) / std
        masks = masks.to(self.device, non_blocking=True).to(self.dtype).div_(255.0)
        return (x, masks, class_ids.to(self.device, non_blocking=True), *rest)
