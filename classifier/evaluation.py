"""What `python -m classifier eval` counts: top-1 per label and the confusions, and with a folder of
pictures that show none of the labels (OTHER_FOLDERS), the open-set figures: how well "none of these"
is told apart, with the open-set answer on (NegLabel, classifier/openset.py) and off (the maximum
softmax over the labels, MCM, which is all a closed answer has)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from classifier.zeroshot import Prediction

OTHER_FOLDERS = ("other", "none")  # an eval folder of pictures that show none of the labels
TPR_FOR_FPR = 0.95


def auroc(inside: Sequence[float], outside: Sequence[float]) -> float:
    """The chance that a random picture of the labels scores above a random other picture (ties count
    half): the area under the ROC curve of telling them apart by the score."""
    if not inside or not outside:
        return float("nan")
    ranked = sorted([(score, 1) for score in inside] + [(score, 0) for score in outside])
    rank_sum, i = 0.0, 0
    while i < len(ranked):  # Mann-Whitney U with average ranks for ties
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        average_rank = (i + 1 + j) / 2
        rank_sum += average_rank * sum(kind for _, kind in ranked[i:j])
        i = j
    n_in, n_out = len(inside), len(outside)
    return (rank_sum - n_in * (n_in + 1) / 2) / (n_in * n_out)


def fpr_at_tpr(inside: Sequence[float], outside: Sequence[float], tpr: float = TPR_FOR_FPR) -> float:
    """FPR95: the share of other pictures that score at least as high as the threshold keeping `tpr`
    of the labels' pictures (the OOD literature's convention: pictures of the labels are positives)."""
    if not inside or not outside:
        return float("nan")
    ordered = sorted(inside, reverse=True)
    threshold = ordered[max(0, min(len(ordered) - 1, int(tpr * len(ordered) + 0.999999) - 1))]
    return sum(score >= threshold for score in outside) / len(outside)


class EvalTally:
    """Accuracy overall and per label, confusion pairs, unreadable files, and the open-set figures,
    counted as outcomes arrive. A truth of None is a picture of the other folder."""

    def __init__(self) -> None:
        self.per_label: dict[str, dict[str, Any]] = {}
        self.confusions: Counter[tuple[str, str]] = Counter()
        self.errors: list[dict[str, Any]] = []
        self.inside: list[Prediction] = []  # the labels' pictures, for the open-set figures
        self.outside: list[Prediction] = []

    def add(self, truth: str | None, path: Path, prediction: Prediction | None, error: str | None) -> None:
        if prediction is None:
            self.errors.append({"path": str(path), "error": error})
            return
        if truth is None:
            self.outside.append(prediction)
            return
        self.inside.append(prediction)
        row = self.per_label.setdefault(truth, {"correct": 0, "total": 0, "answered": 0})
        row["total"] += 1
        if prediction.label == truth:
            row["correct"] += 1
            row["answered"] += not prediction.none_of_these
        else:
            self.confusions[(truth, prediction.label)] += 1

    def report(self, other_folder: str | None = None) -> dict[str, Any]:
        for row in self.per_label.values():
            row["accuracy"] = row["correct"] / row["total"]
        correct = sum(row["correct"] for row in self.per_label.values())
        total = sum(row["total"] for row in self.per_label.values())
        report: dict[str, Any] = {
            "accuracy": correct / total if total else 0.0,
            "correct": correct,
            "total": total,
            "per_label": dict(sorted(self.per_label.items())),
            "confusions": [[t, p, n] for (t, p), n in self.confusions.most_common()],
            "errors": self.errors,
        }
        if other_folder is not None:
            for row in self.per_label.values():
                row["answered_accuracy"] = row["answered"] / row["total"]
            report["open_set"] = self._open_set(other_folder, total)
        else:
            for row in self.per_label.values():
                del row["answered"]
        return report

    def _open_set(self, other_folder: str, total: int) -> dict[str, Any]:
        """The open-set figures, on (NegLabel's score and answer) and off (MCM: the top probability)."""
        rejected_outside = sum(p.none_of_these for p in self.outside)
        rejected_inside = sum(p.none_of_these for p in self.inside)
        rejected = rejected_inside + rejected_outside
        answered = sum(row["answered"] for row in self.per_label.values())
        neglabel_in = [p.open_set_score or 0.0 for p in self.inside]
        neglabel_out = [p.open_set_score or 0.0 for p in self.outside]
        mcm_in, mcm_out = [p.probability for p in self.inside], [p.probability for p in self.outside]
        return {
            "other_folder": other_folder,
            "other_total": len(self.outside),
            "on": {
                "score": "NegLabel",
                "rejection_precision": rejected_outside / rejected if rejected else None,
                "rejection_recall": rejected_outside / len(self.outside) if self.outside else None,
                "labels_accuracy": answered / total if total else 0.0,  # right and not rejected
                "auroc": auroc(neglabel_in, neglabel_out),
                "fpr95": fpr_at_tpr(neglabel_in, neglabel_out),
            },
            "off": {
                "score": "MCM (top probability)",
                "rejection_precision": None,  # never says "none of these"
                "rejection_recall": 0.0,
                "labels_accuracy": sum(r["correct"] for r in self.per_label.values()) / total if total else 0.0,
                "auroc": auroc(mcm_in, mcm_out),
                "fpr95": fpr_at_tpr(mcm_in, mcm_out),
            },
        }
