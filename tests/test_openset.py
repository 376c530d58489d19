"""Open-set answers ("none of these", classifier/openset.py) on the tiny model, and eval's figures."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch

from classifier import DEFAULT_LABELS, ClassifierSettings, ImageLimits, ZeroShotClassifier
from classifier import decode_image as decode
from classifier.cli import main
from classifier.evaluation import auroc, fpr_at_tpr
from classifier.openset import NEAREST_DROPPED, CompetingNegatives, neglabel_scores
from classifier.text.negatives import NEGATIVE_LABELS, overlaps, read_negatives
from classifier.zeroshot import Prediction

# The held-out rates the tiny model reaches (docs/architecture.md, "None of these"), with a margin.
OTHER_REJECTED = 0.9  # other pictures answered "none of these"
ANIMALS_ANSWERED = 0.9  # animal pictures answered by their name, not "none"


@pytest.fixture
def cli_env(settings: ClassifierSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {"CLIP_MODEL": settings.model, "CLIP_PRETRAINED": settings.pretrained,
                       "CACHE_DIR": str(settings.cache_dir), "CLIP_DEVICE": "cpu"}.items():
        monkeypatch.setenv(key, value)


def pictures(classifier: ZeroShotClassifier, folder: Path) -> list:  # type: ignore[type-arg]
    return [decode(p.read_bytes(), ImageLimits(), classifier.image_size) for p in sorted(folder.iterdir())]


def test_other_pictures_get_none_and_animals_their_name(classifier: ZeroShotClassifier, samples_dir: Path) -> None:
    others = classifier.classify_images(pictures(classifier, samples_dir / "other"), DEFAULT_LABELS, open_set=True)
    assert len(others) == 30
    assert sum(p.none_of_these for p in others) / len(others) >= OTHER_REJECTED
    answered = total = 0
    for animal in DEFAULT_LABELS:
        found = classifier.classify_images(pictures(classifier, samples_dir / animal), DEFAULT_LABELS, open_set=True)
        answered += sum(p.label == animal and not p.none_of_these for p in found)
        total += len(found)
    assert answered / total >= ANIMALS_ANSWERED


def test_a_chat_of_cats_and_dogs_sees_none_in_a_fox(classifier: ZeroShotClassifier, samples_dir: Path) -> None:
    foxes = classifier.classify_images(pictures(classifier, samples_dir / "fox"), ["cat", "dog"], open_set=True)
    assert all(p.none_of_these for p in foxes)
    assert all(p.label in ("cat", "dog") and 0 <= p.open_probability < p.probability for p in foxes)
    closed = classifier.classify_images(pictures(classifier, samples_dir / "fox"), ["cat", "dog"])
    assert not any(p.none_of_these for p in closed) and all(p.open_set_score is None for p in closed)
    assert [p.ranking for p in closed] == [p.ranking for p in foxes]  # the ranking is the chat's softmax still
    cats = classifier.classify_images(pictures(classifier, samples_dir / "cat"), ["cat", "dog"], open_set=True)
    assert sum(p.label == "cat" and not p.none_of_these for p in cats) >= len(cats) - 1


def test_negatives_that_name_a_label_never_compete_with_it(classifier: ZeroShotClassifier, samples_dir: Path) -> None:
    assert overlaps("car", ["Cars", "bus"]) and overlaps("fire truck", ["truck"]) and overlaps("toy car", ["car"])
    assert not overlaps("carpet", ["car"]) and not overlaps("bus", ["cat", "dog"])
    labels = ("car", "bus")
    negatives = classifier.label_embeddings(NEGATIVE_LABELS)
    chosen = CompetingNegatives(NEGATIVE_LABELS).indices(labels, classifier.label_embeddings(labels), negatives)
    names = {NEGATIVE_LABELS[i] for i in chosen.tolist()}
    assert not names & {"car", "bus", "toy car", "police car"}
    allowed = len(NEGATIVE_LABELS) - 4
    assert len(names) == allowed - int(allowed * NEAREST_DROPPED)  # and the nearest tenth of the rest
    # A chat whose own labels are negatives still gets its pictures' answers: nothing takes them away.
    [scene] = classifier.classify_images(pictures(classifier, samples_dir / "other")[:1], ["street", "city"],
                                         open_set=True)
    assert scene.open_set_score is not None and scene.open_set_score > 0


def test_neglabel_score_is_the_labels_share_of_the_mass() -> None:
    labels, negatives = torch.tensor([[2.0, 0.0]]), torch.tensor([[1.0, 1.0, 1.0]])
    expected = (math.e**2 + 1) / (math.e**2 + 1 + 3 * math.e)
    assert neglabel_scores(labels, negatives).item() == pytest.approx(expected)
    assert neglabel_scores(labels, torch.empty(1, 0)).tolist() == [1.0]


def test_the_negatives_file_reads_one_noun_a_line(tmp_path: Path) -> None:
    listed = tmp_path / "negatives.txt"
    listed.write_text("# a comment\ncar\n\nbus  # a note\ncar\n", encoding="utf-8")
    assert read_negatives(listed) == ("car", "bus")
    assert len(NEGATIVE_LABELS) >= 300 and not set(NEGATIVE_LABELS) & set(DEFAULT_LABELS)


def test_auroc_and_fpr95_on_known_scores() -> None:
    assert auroc([0.9, 0.8, 0.7], [0.1, 0.2]) == 1.0
    assert auroc([0.1, 0.2], [0.9, 0.8]) == 0.0
    assert auroc([0.5, 0.5], [0.5]) == 0.5  # ties count half
    assert auroc([0.9, 0.4], [0.5, 0.1]) == 0.75
    inside = [i / 100 for i in range(1, 101)]  # 95% of them score 0.06 or more
    assert fpr_at_tpr(inside, [0.0, 0.05, 0.06, 0.5]) == 0.5
    assert math.isnan(auroc([], [0.1]))


def test_eval_reports_the_open_set_figures(cli_env: None, classifier: ZeroShotClassifier, samples_dir: Path,
                                           tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "eval"
    for label in ("cat", "dog", "other"):
        shutil.copytree(samples_dir / label, root / label)
    for i, path in enumerate(sorted((samples_dir / "fox").iterdir())):  # no label here: a picture of none of them
        shutil.copy(path, root / "other" / f"fox-{i}.png")
    assert main(["eval", str(root), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    figures = report["open_set"]
    # The same pictures through the classifier directly: the figures must be what they say.
    inside = [p for label in ("cat", "dog") for p in classifier.classify_images(
        pictures(classifier, root / label), ["cat", "dog"], open_set=True)]
    outside = classifier.classify_images(pictures(classifier, root / "other"), ["cat", "dog"],
                                         open_set=True)
    rejected = [p for p in inside + outside if p.none_of_these]
    assert figures["other_total"] == len(outside) == 36 and report["total"] == len(inside) == 12
    assert figures["on"]["rejection_recall"] == pytest.approx(sum(p.none_of_these for p in outside) / 36)
    assert figures["on"]["rejection_precision"] == pytest.approx(
        sum(p.none_of_these for p in outside) / len(rejected))
    assert figures["on"]["auroc"] == pytest.approx(
        auroc([p.open_set_score or 0 for p in inside], [p.open_set_score or 0 for p in outside]), abs=1e-6)
    assert figures["off"]["auroc"] == pytest.approx(
        auroc([p.probability for p in inside], [p.probability for p in outside]), abs=1e-6)
    assert figures["off"]["rejection_recall"] == 0.0 and figures["off"]["rejection_precision"] is None
    # The tiny model's figures (docs/architecture.md), with a margin: its other pictures are easy, so its
    # top probability alone (MCM) tells them apart too; only the answer on says "none".
    assert figures["on"]["rejection_recall"] >= 0.9 and figures["on"]["rejection_precision"] >= 0.9
    assert figures["on"]["auroc"] >= 0.95 and figures["on"]["fpr95"] <= 0.1
    assert main(["eval", str(root)]) == 0
    assert "open set (36 pictures in other/" in capsys.readouterr().out


def test_a_prediction_without_open_set_keeps_its_probability() -> None:
    closed = Prediction((("cat", 0.8), ("dog", 0.2)))
    assert closed.open_probability == 0.8 and not closed.none_of_these
    assert Prediction((("cat", 0.8), ("dog", 0.2)), 0.25, True).open_probability == pytest.approx(0.2)
