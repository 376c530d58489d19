"""The command line: predict, eval and bench.

Exit codes: 0 every input classified, 1 some input failed, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from classifier.factory import create_classifier, create_worker
from classifier.images import ImageError
from classifier.labels import LabelError, parse_labels
from classifier.model import ModelLoadError
from classifier.progress import Progress
from classifier.settings import ClassifierSettings, SettingsError, read_environment
from classifier.worker import BatchWorker, InternalError
from classifier.zeroshot import Prediction

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad arguments or settings: printed, exit 2."""


@dataclass(frozen=True)
class Outcome:
    path: Path
    prediction: Prediction | None = None
    error: str | None = None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m classifier", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", help="classify image files")
    predict.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    predict.add_argument("--labels", help='comma-separated labels (default: DEFAULT_LABELS)')
    predict.add_argument("--top-k", type=int, default=3, help="labels to show per image (default 3)")
    predict.add_argument("--json", action="store_true", help="one JSON object per input, one per line")
    evaluate = commands.add_parser("eval", help="accuracy on a folder of labelled folders")
    evaluate.add_argument("directory", type=Path, metavar="DIR")
    evaluate.add_argument("--labels", help="comma-separated labels (default: the folder names)")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    bench = commands.add_parser("bench", help="measure speed (see README, Performance)")
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.add_argument("--seconds", type=float, default=3.0, help="time per throughput measurement")
    bench.add_argument("--random-weights", action="store_true",
                       help="the configured architecture with random weights: timing only, no download")
    return parser


def _labels(text: str | None, default: Sequence[str]) -> tuple[str, ...]:
    if text is None:
        return tuple(default)
    try:
        return parse_labels(text)
    except LabelError as exc:
        raise UsageError(f"--labels: {exc}") from exc


async def classify_files(worker: BatchWorker, paths: Sequence[Path], labels: Sequence[str],
                         progress: Progress) -> list[Outcome]:
    """Classify files concurrently through the worker, no more at once than its queue holds."""
    gate = asyncio.Semaphore(worker.queue_size)

    async def one(path: Path) -> Outcome:
        async with gate:
            try:
                data = await asyncio.to_thread(path.read_bytes)
                return Outcome(path, prediction=await worker.classify(data, labels))
            except ImageError as exc:
                return Outcome(path, error=str(exc))
            except IsADirectoryError:
                return Outcome(path, error="This is a folder, not a file.")
            except FileNotFoundError:
                return Outcome(path, error="No such file.")
            except OSError as exc:
                return Outcome(path, error=f"Cannot read the file: {exc.strerror or exc}.")
            except InternalError:
                return Outcome(path, error="internal error")  # the worker logged the traceback
            finally:
                progress.advance()

    return list(await asyncio.gather(*(one(path) for path in paths)))


async def _run_with_worker(settings: ClassifierSettings, paths: Sequence[Path],
                           labels: Sequence[str]) -> list[Outcome]:
    classifier = await asyncio.to_thread(create_classifier, settings)
    worker = create_worker(settings, classifier)
    worker.start()
    try:
        return await classify_files(worker, paths, labels, Progress(len(paths)))
    finally:
        await worker.stop()


def _predict(args: argparse.Namespace, settings: ClassifierSettings) -> int:
    if args.top_k < 1:
        raise UsageError("--top-k must be at least 1.")
    labels = _labels(args.labels, settings.default_labels)
    outcomes = asyncio.run(_run_with_worker(settings, args.paths, labels))
    for outcome in outcomes:
        if args.json:
            record: dict[str, Any] = {"path": str(outcome.path)}
            if outcome.prediction is not None:
                p = outcome.prediction
                record |= {"label": p.label, "probability": round(p.probability, 6),
                           "top": [[label, round(prob, 6)] for label, prob in p.top(args.top_k)]}
            else:
                record["error"] = outcome.error
            print(json.dumps(record, ensure_ascii=False))
        elif outcome.prediction is not None:
            top = ", ".join(f"{label} {prob:.1%}" for label, prob in outcome.prediction.top(args.top_k))
            print(f"{outcome.path}: {top}")
        else:
            print(f"{outcome.path}: error: {outcome.error}")
    return EXIT_OK if all(o.prediction is not None for o in outcomes) else EXIT_FAILED


def _evaluate(args: argparse.Namespace, settings: ClassifierSettings) -> int:
    root: Path = args.directory
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder.")
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    if not folders:
        raise UsageError(f"{root} holds no folders; it needs one folder per label.")
    labels = _labels(args.labels, [f.name for f in folders])
    unknown = [f.name for f in folders if f.name not in labels]
    if unknown:
        raise UsageError(f"Folders {', '.join(unknown)} are not among the labels.")
    items = [(folder.name, path) for folder in folders for path in sorted(folder.iterdir()) if path.is_file()]
    outcomes = asyncio.run(_run_with_worker(settings, [path for _, path in items], labels))
    report = eval_report([truth for truth, _ in items], outcomes)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(f"accuracy {report['accuracy']:.1%} ({report['correct']}/{report['total']})")
        for label, row in report["per_label"].items():
            print(f"  {label}: {row['accuracy']:.1%} ({row['correct']}/{row['total']})")
        if report["confusions"]:
            print("confusions (true -> predicted: count):")
            for truth, predicted, count in report["confusions"]:
                print(f"  {truth} -> {predicted}: {count}")
        for error in report["errors"]:
            print(f"error: {error['path']}: {error['error']}")
    return EXIT_OK if not report["errors"] else EXIT_FAILED


def eval_report(truths: Sequence[str], outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Accuracy overall and per label, confusion pairs, and unreadable files."""
    per_label: dict[str, dict[str, Any]] = {}
    confusions: Counter[tuple[str, str]] = Counter()
    errors = []
    for truth, outcome in zip(truths, outcomes, strict=True):
        if outcome.prediction is None:
            errors.append({"path": str(outcome.path), "error": outcome.error})
            continue
        row = per_label.setdefault(truth, {"correct": 0, "total": 0})
        row["total"] += 1
        if outcome.prediction.label == truth:
            row["correct"] += 1
        else:
            confusions[(truth, outcome.prediction.label)] += 1
    for row in per_label.values():
        row["accuracy"] = row["correct"] / row["total"]
    correct = sum(row["correct"] for row in per_label.values())
    total = sum(row["total"] for row in per_label.values())
    return {
        "accuracy": correct / total if total else 0.0,
        "correct": correct,
        "total": total,
        "per_label": per_label,
        "confusions": [[t, p, n] for (t, p), n in confusions.most_common()],
        "errors": errors,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = ClassifierSettings.from_env(read_environment())
        if args.command == "predict":
            return _predict(args, settings)
        if args.command == "eval":
            return _evaluate(args, settings)
        from classifier.bench import run_bench

        if args.random_weights:
            settings = replace(settings, pretrained="")
        return run_bench(settings, seconds=args.seconds, as_json=args.json)
    except (UsageError, SettingsError, ModelLoadError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
