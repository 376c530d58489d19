"""The command line: predict, eval and bench.

Exit codes: 0 every input classified, 1 some input failed, 2 usage or configuration error,
130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from classifier.batching.inference import InternalError
from classifier.batching.worker import BatchWorker
from classifier.evaluation import OTHER_FOLDERS, EvalTally
from classifier.factory import create_classifier, create_worker
from classifier.model.spec import ModelLoadError
from classifier.pictures.cache import content_key
from classifier.pictures.images import ImageError, NotAnImage
from classifier.progress import Progress
from classifier.settings import ClassifierSettings, SettingsError, read_environment
from classifier.text.labels import LabelError, parse_labels
from classifier.zeroshot import Prediction

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """Bad arguments or settings: printed, exit 2."""


@dataclass(frozen=True)
class Outcome:
    path: Path
    prediction: Prediction | None = None
    error: str | None = None
    not_a_picture: bool = False


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m classifier", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", help="classify pictures, GIFs and videos (folders are walked; "
                                                  "- reads paths from stdin)")
    predict.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    predict.add_argument("--labels", help='comma-separated labels (default: DEFAULT_LABELS)')
    predict.add_argument("--top-k", type=int, default=3, help="labels to show per image (default 3)")
    predict.add_argument("--json", action="store_true", help="one JSON object per input, one per line")
    evaluate = commands.add_parser("eval", help="accuracy on a folder of labelled folders (and the open-set "
                                                "figures when one is named other/ or none/)")
    evaluate.add_argument("directory", type=Path, metavar="DIR")
    evaluate.add_argument("--labels", help="comma-separated labels (default: the folder names)")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    bench = commands.add_parser("bench", help="measure speed (see README, Performance)")
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.add_argument("--seconds", type=float, default=3.0, help="time per throughput measurement")
    for command in (predict, evaluate, bench):
        command.add_argument("--random-weights", action="store_true",
                             help="the configured architecture with random weights: timing only, no download")
    return parser


def _labels(text: str | None, default: Sequence[str]) -> tuple[str, ...]:
    if text is None:
        return tuple(default)
    try:
        return parse_labels(text)
    except LabelError as exc:
        raise UsageError(f"--labels: {exc}") from exc


def walk(folder: Path) -> Iterator[Path]:
    """Every file under folder, recursively, in sorted order; hidden files and folders skipped."""
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(root) / name


def expand_inputs(arguments: Sequence[Path], stdin: TextIO = sys.stdin) -> Iterator[tuple[Path, bool]]:
    """(path, found by walking a folder) for each input: files as given, folders walked
    recursively, '-' read from standard input one path a line. Lazy: nothing is listed up front."""
    for argument in arguments:
        if str(argument) == "-":
            yield from ((Path(line.rstrip("\n")), False) for line in stdin if line.strip())
        elif argument.is_dir():
            yield from ((path, True) for path in walk(argument))
        else:
            yield argument, False


async def _classify_path(worker: BatchWorker, path: Path, labels: Sequence[str], open_set: bool) -> Outcome:
    try:
        data = await asyncio.to_thread(path.read_bytes)
        # Keyed by content: a file whose bytes were seen before in this run is not decoded or encoded again.
        return Outcome(path, prediction=await worker.classify(data, labels, key=content_key(data), open_set=open_set))
    except NotAnImage as exc:
        return Outcome(path, error=str(exc), not_a_picture=True)
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


async def stream_outcomes(worker: BatchWorker, inputs: Iterable[tuple[Path, bool]], labels: Sequence[str],
                          emit: Callable[[Outcome], None], progress: Progress, open_set: bool = False) -> None:
    """Classify inputs concurrently and emit each outcome in input order as soon as it and every
    input before it are done. At most the worker's queue size are in flight: memory stays flat
    however many inputs there are. Files met while walking a folder that are not pictures
    (by their content) are skipped."""
    window: deque[tuple[asyncio.Task[Outcome], bool]] = deque()

    def emit_done() -> None:
        while window and window[0][0].done():
            task, walked = window.popleft()
            outcome = task.result()
            progress.advance()
            if not (walked and outcome.not_a_picture):
                emit(outcome)

    try:
        for path, walked in inputs:
            window.append((asyncio.ensure_future(_classify_path(worker, path, labels, open_set)), walked))
            emit_done()
            while len(window) >= worker.queue_size:
                await asyncio.wait([window[0][0]])
                emit_done()
        while window:
            await asyncio.wait([window[0][0]])
            emit_done()
    finally:
        for task, _ in window:
            task.cancel()


async def _run_with_worker(settings: ClassifierSettings, inputs: Iterable[tuple[Path, bool]], labels: Sequence[str],
                           emit: Callable[[Outcome], None], total: int | None, open_set: bool = False) -> float:
    """Stream the inputs through a worker; returns the seconds the streaming took (model loading aside)."""
    classifier = await asyncio.to_thread(create_classifier, settings, keep_pictures=False)
    if open_set:
        await asyncio.get_running_loop().run_in_executor(classifier.executor, classifier.prepare_negatives)
    worker = create_worker(settings, classifier)
    worker.start()
    try:
        started = time.perf_counter()
        await stream_outcomes(worker, inputs, labels, emit, Progress(total), open_set)
        return time.perf_counter() - started
    finally:
        await worker.stop()


def _print_prediction(outcome: Outcome, as_json: bool, top_k: int) -> None:
    if as_json:
        record: dict[str, Any] = {"path": str(outcome.path)}
        if outcome.prediction is not None:
            p = outcome.prediction
            record |= {"label": p.label, "probability": round(p.probability, 6),
                       "top": [[label, round(prob, 6)] for label, prob in p.top(top_k)]}
        else:
            record["error"] = outcome.error
        print(json.dumps(record, ensure_ascii=False), flush=True)
    elif outcome.prediction is not None:
        top = ", ".join(f"{label} {prob:.1%}" for label, prob in outcome.prediction.top(top_k))
        print(f"{outcome.path}: {top}", flush=True)
    else:
        print(f"{outcome.path}: error: {outcome.error}", flush=True)


def _predict(args: argparse.Namespace, settings: ClassifierSettings) -> int:
    if args.top_k < 1:
        raise UsageError("--top-k must be at least 1.")
    labels = _labels(args.labels, settings.default_labels)
    failed = 0

    def emit(outcome: Outcome) -> None:
        nonlocal failed
        failed += outcome.prediction is None
        _print_prediction(outcome, args.json, args.top_k)

    reads_stdin = any(str(p) == "-" for p in args.paths)
    total = None if reads_stdin else sum(1 for _ in expand_inputs(args.paths))
    asyncio.run(_run_with_worker(settings, expand_inputs(args.paths), labels, emit, total))
    return EXIT_OK if not failed else EXIT_FAILED


def _evaluate(args: argparse.Namespace, settings: ClassifierSettings) -> int:
    root: Path = args.directory
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder.")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    other = next((f for f in folders if f.name in OTHER_FOLDERS), None)
    labelled = [f for f in folders if f is not other]
    if not labelled:
        raise UsageError(f"{root} holds no folders; it needs one folder per label.")
    labels = _labels(args.labels, [f.name for f in labelled])
    unknown = [f.name for f in labelled if f.name not in labels]
    if unknown:
        raise UsageError(f"Folders {', '.join(unknown)} are not among the labels.")
    tally = EvalTally()
    truth_of = {folder: None if folder is other else folder.name for folder in folders}

    def emit(outcome: Outcome) -> None:
        folder = next(f for f in folders if outcome.path.is_relative_to(f))
        tally.add(truth_of[folder], outcome.path, outcome.prediction, outcome.error)

    total = sum(1 for folder in folders for _ in walk(folder))
    inputs = ((path, True) for folder in folders for path in walk(folder))
    seconds = asyncio.run(_run_with_worker(settings, inputs, labels, emit, total, open_set=other is not None))
    report = tally.report(other.name if other is not None else None)
    done = report["total"] + len(report["errors"])
    report |= {"seconds": round(seconds, 3), "pictures_per_s": round(done / seconds, 1) if seconds else 0.0}
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(f"accuracy {report['accuracy']:.1%} ({report['correct']}/{report['total']}), "
              f"{report['pictures_per_s']:.0f} pictures/s")
        for label, row in report["per_label"].items():
            print(f"  {label}: {row['accuracy']:.1%} ({row['correct']}/{row['total']})")
        if "open_set" in report:
            _print_open_set(report["open_set"])
        if report["confusions"]:
            print("confusions (true -> predicted: count):")
            for truth, predicted, count in report["confusions"]:
                print(f"  {truth} -> {predicted}: {count}")
        for error in report["errors"]:
            print(f"error: {error['path']}: {error['error']}")
    return EXIT_OK if not report["errors"] else EXIT_FAILED


def _print_open_set(figures: dict[str, Any]) -> None:
    def share(value: float | None) -> str:
        return "–" if value is None else f"{value:.1%}"

    print(f"open set ({figures['other_total']} pictures in {figures['other_folder']}/ show none of the labels):")
    for switch in ("on", "off"):
        row = figures[switch]
        print(f"  {switch:<3} {row['score']}: rejection precision {share(row['rejection_precision'])}, "
              f"recall {share(row['rejection_recall'])}; labels answered right {share(row['labels_accuracy'])}; "
              f"AUROC {row['auroc']:.3f}, FPR95 {share(row['fpr95'])}")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = ClassifierSettings.from_env(read_environment())
        if args.random_weights:
            settings = replace(settings, pretrained="")
        if args.command == "predict":
            return _predict(args, settings)
        if args.command == "eval":
            return _evaluate(args, settings)
        from classifier.bench import run_bench

        return run_bench(settings, seconds=args.seconds, as_json=args.json)
    except (UsageError, SettingsError, ModelLoadError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # Ctrl-C: what is printed stays printed; no traceback
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
