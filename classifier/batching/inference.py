"""One image batch on the model thread: device decoding, one forward pass, one matrix product per
label set (two with an open-set answer). Text is never encoded here: labels that left the cache fail their rows with
LabelsNotCached, and the worker sends those pictures back through the chunked path. A row without
labels is answered with its picture's features (for the image-embedding cache)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import TypeVar

import numpy as np
import torch

from classifier.pictures.devicedecode import DeviceJpegDecoder, JpegHeader
from classifier.zeroshot import Prediction, ZeroShotClassifier

logger = logging.getLogger(__name__)

R = TypeVar("R")
Result = Prediction | torch.Tensor | Exception


class InternalError(RuntimeError):
    """Something unexpected failed for one picture; its traceback is in the log."""


def infer(classifier: ZeroShotClassifier, device_decoder: DeviceJpegDecoder | None,
          batch: Sequence[tuple[np.ndarray | JpegHeader, tuple[str, ...] | None, bool]],
          ) -> list[Prediction | torch.Tensor | Exception]:
    """A prediction (labels given) or the picture's (D,) features (labels None), or the exception that
    is its caller's alone, for each (picture, labels, open set) of batch."""
    results: list[Prediction | torch.Tensor | Exception] = [InternalError("internal error")] * len(batch)
    pictures: dict[int, np.ndarray | torch.Tensor] = {
        i: pixels for i, (pixels, _, _) in enumerate(batch) if not isinstance(pixels, JpegHeader)}
    jpegs = [i for i, (pixels, _, _) in enumerate(batch) if isinstance(pixels, JpegHeader)]
    if jpegs and device_decoder is not None:
        decoded = device_decoder.decode([batch[i][0] for i in jpegs])  # type: ignore[misc]
        for i, picture in zip(jpegs, decoded, strict=True):
            if isinstance(picture, Exception):
                results[i] = picture  # this picture's caller alone
            else:
                pictures[i] = picture
    rows_in_batch = sorted(pictures)
    if not rows_in_batch:
        return results
    encoded = classifier.encode_pictures([pictures[i] for i in rows_in_batch])
    features = dict(zip(rows_in_batch, encoded, strict=True))
    by_labels: dict[tuple[tuple[str, ...], bool], list[int]] = {}
    for i in rows_in_batch:
        _, labels, open_set = batch[i]
        if labels is None:
            results[i] = features[i].clone()  # a storage of its own, not a view that keeps the batch alive
        else:
            by_labels.setdefault((labels, open_set), []).append(i)
    for (labels, open_set), rows in by_labels.items():
        try:
            vectors = torch.stack([features[row] for row in rows])
            for row, prediction in zip(rows, classifier.score_cached(vectors, labels, open_set), strict=True):
                results[row] = prediction
        except Exception as exc:  # one label set's failure (LabelsNotCached among them) is its callers' alone
            for row in rows:
                results[row] = exc
    return results


async def run_batch(executor: Executor, run: Callable[[list[R]], list[Result]], batch: list[R]) -> list[Result]:
    """run(batch) on the model's thread. When the whole batch fails, each picture runs alone, so only
    the one that broke it fails (with InternalError; the traceback goes to the log)."""
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(executor, run, batch)
    except Exception:
        if len(batch) == 1:
            logger.exception("A picture failed in the model")
            return [InternalError("internal error")]
        logger.exception("A batch of %d failed; running its pictures one by one", len(batch))
    results: list[Result] = []
    for item in batch:
        try:
            results += await loop.run_in_executor(executor, run, [item])
        except Exception:
            logger.exception("A picture failed in the model")
            results.append(InternalError("internal error"))
    return results
