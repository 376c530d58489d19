"""Open-set answers ("none of these"): a picture scored against a label set and the negative labels
that compete with it, by NegLabel (Jiang et al., "Negative Label Guided OOD Detection with Pretrained
Vision-Language Models", ICLR 2024).

A zero-shot classifier's softmax over a chat's labels adds up to one whatever the picture shows. Here
every label set competes, internally, with a few hundred everyday things that are not animals
(classifier/text/negatives.txt). The NegLabel score is the share of the softmax mass, over the labels
and the competing negatives together, that falls on the chat's own labels; the picture shows none of
them when the negatives hold more of it than the labels (score below OPEN_SET_THRESHOLD). The ranking
the chat sees stays the softmax over its own labels alone.

A negative never competes with a label that names the same thing: one whose words are a label's
(classifier/text/negatives.overlaps), and, as NegLabel's NegMining keeps the negatives farthest from
the label set, the nearest NEAREST_DROPPED share of the rest by text-embedding cosine (synonyms and
near kinds: 'truck' for a chat with 'car'). Chosen once per label set and kept (KEPT_SETS sets).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import torch

from classifier.text.negatives import overlaps

OPEN_SET_THRESHOLD = 0.5  # below it, the negatives hold more of the softmax mass than the chat's labels
NEAREST_DROPPED = 0.1  # the share of negatives nearest to a label set that never compete with it
KEPT_SETS = 256  # label sets whose competing negatives are remembered


class CompetingNegatives:
    """Which negatives compete with a label set: chosen once per set, remembered for KEPT_SETS sets.
    Safe in any thread (the worker scores on the model thread and on the event loop)."""

    def __init__(self, negatives: Sequence[str], kept_sets: int = KEPT_SETS) -> None:
        self.negatives = tuple(negatives)
        self.kept_sets = kept_sets
        self._chosen: OrderedDict[tuple[str, ...], torch.Tensor] = OrderedDict()
        self._lock = threading.Lock()

    def indices(self, labels: tuple[str, ...], label_features: torch.Tensor,
                negative_features: torch.Tensor) -> torch.Tensor:
        """The rows of negative_features (M, D) that compete with labels, whose features are (L, D)."""
        with self._lock:
            chosen = self._chosen.get(labels)
            if chosen is not None:
                self._chosen.move_to_end(labels)
                return chosen
        chosen = self._choose(labels, label_features, negative_features)
        with self._lock:
            self._chosen[labels] = chosen
            while len(self._chosen) > self.kept_sets:
                self._chosen.popitem(last=False)
        return chosen

    def _choose(self, labels: tuple[str, ...], label_features: torch.Tensor,
                negative_features: torch.Tensor) -> torch.Tensor:
        nearest = (negative_features @ label_features.T).max(dim=1).values  # (M,): cosine to the nearest label
        allowed = torch.tensor([not overlaps(negative, labels) for negative in self.negatives])
        candidates = allowed.nonzero().flatten()
        if len(candidates) == 0:
            return candidates
        dropped = int(len(candidates) * NEAREST_DROPPED)
        order = nearest[candidates].argsort(descending=True)  # nearest first
        return candidates[order[dropped:]].sort().values


def neglabel_scores(label_logits: torch.Tensor, negative_logits: torch.Tensor) -> torch.Tensor:
    """(N,) NegLabel scores: the softmax mass on the labels (N, L) against the labels and the negatives
    (N, M) together; 1 when no negative competes."""
    if negative_logits.shape[1] == 0:
        return torch.ones(label_logits.shape[0])
    everything = torch.cat([label_logits, negative_logits], dim=1)
    return (label_logits.logsumexp(dim=1) - everything.logsumexp(dim=1)).exp()
