"""Odd and hostile pictures and labels: each gets a prediction or a one-sentence refusal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from telegram.ext import Application

from classifier import ClassifierSettings
from tests import pictures
from tests.conftest import idle
from tests.fake_telegram import FakeTelegram, private_chat, user

ROOT = Path(__file__).resolve().parent.parent
ANN = 701


def one_sentence(text: str) -> bool:
    return text.endswith(".") and text.count(". ") == 0 and "Traceback" not in text and len(text) < 200


# Runs a command and writes its peak memory (kB) to a file. ru_maxrss of RUSAGE_CHILDREN is the largest
# of all children a process ever had, so it is read in a fresh process whose only child is the command.
PEAK = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[2:])
open(sys.argv[1], "w").write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(done.returncode)
"""


def cli(settings: ClassifierSettings, tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], int]:
    """Run `python -m classifier`; returns the result and that run's own peak memory in MB."""
    env = {**os.environ, "CLIP_MODEL": settings.model, "CLIP_PRETRAINED": settings.pretrained,
           "CACHE_DIR": str(settings.cache_dir), "CLIP_DEVICE": "cpu"}
    peak = tmp_path / "peak-kb"
    done = subprocess.run([sys.executable, "-c", PEAK, str(peak), sys.executable, "-m", "classifier", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    return done, int(peak.read_text()) // 1024


def test_corpus_through_the_cli(settings: ClassifierSettings, tmp_path: Path, patience: float) -> None:
    ok = tmp_path / "ok.png"
    ok.write_bytes(pictures.encode(pictures.half_and_half(), "PNG"))
    baseline, baseline_mb = cli(settings, tmp_path, "predict", str(ok), "--json")
    assert baseline.returncode == 0, baseline.stderr
    files = {}
    for name, (data, _) in pictures.corpus().items():
        (tmp_path / name).write_bytes(data)
        files[str(tmp_path / name)] = name
    started = time.monotonic()
    done, peak_mb = cli(settings, tmp_path, "predict", *files, "--json")
    elapsed = time.monotonic() - started
    assert done.returncode == 1  # some are refused
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [files[line["path"]] for line in lines] == list(files.values())
    for line in lines:
        good = pictures.corpus()[files[line["path"]]][1]
        if good:
            assert "label" in line, line
        else:
            assert one_sentence(line["error"]), line
    assert "Traceback" not in done.stderr
    assert elapsed < 20 * patience  # 60 s on the development machine
    # Each run's own peak: the corpus must not add more than a few hundred MB to one picture's.
    assert baseline_mb > 100 and peak_mb - baseline_mb < 300, (baseline_mb, peak_mb)


async def test_corpus_through_the_bot_as_documents(bot: Application, fake: FakeTelegram,  # type: ignore[type-arg]
                                                   patience: float) -> None:
    sent: dict[int, tuple[str, bool]] = {}
    for name, (data, good) in pictures.corpus().items():
        document = {"file_id": fake.add_file(data), "file_unique_id": name, "file_name": name,
                    "mime_type": "image/svg+xml" if name.endswith(".svg") else "image/png", "file_size": len(data)}
        message = await fake.push(chat=private_chat(ANN), **{"from": user(ANN)}, document=document)
        sent[message["message_id"]] = (name, good)
    started = time.monotonic()
    await fake.wait_for(lambda: len(fake.sent(ANN)) >= len(sent), timeout=20 * patience)
    assert time.monotonic() - started < 10 * patience  # 30 s on the development machine
    await idle(fake, bot)
    answers = {a["reply_parameters"]["message_id"]: a["text"] for a in fake.sent(ANN)}
    assert answers.keys() == sent.keys() and len(fake.sent(ANN)) == len(sent)
    for message_id, (name, good) in sent.items():
        text = answers[message_id]
        if good:  # a prediction: a label, or (the open-set answer) none of them with the closest as a guess
            assert text.startswith(("<b>", "I don't see any of:")), (name, text)
        else:
            assert one_sentence(text), (name, text)


@pytest.mark.parametrize(("labels", "expected"), [
    ("x" * 10_000, "That list is 10000 characters long; the limit is 3100."),
    ("," * 1_000, "Give at least 2 different labels, separated by commas."),
    (",".join(f"a{i}" for i in range(300)), "That is 300 labels; the limit is 50."),
    ("cat, do\x07g", "contains a control character"),
])
async def test_hostile_label_lists_are_refused(bot: Application, fake: FakeTelegram,  # type: ignore[type-arg]
                                               labels: str, expected: str) -> None:
    await fake.push(chat=private_chat(ANN), **{"from": user(ANN)}, text=f"/labels {labels}")
    await fake.wait_for(lambda: len(fake.sent(ANN)) == 1)
    assert expected in fake.sent(ANN)[0]["text"]
    await fake.push(chat=private_chat(ANN), **{"from": user(ANN)}, text="/labels")
    await fake.wait_for(lambda: len(fake.sent(ANN)) == 2)
    assert "the default set" in fake.sent(ANN)[1]["text"]


async def test_odd_labels_are_stored_and_shown_literally(bot: Application,  # type: ignore[type-arg]
                                                         fake: FakeTelegram) -> None:
    odd = ["cat'); DROP TABLE chat_labels;--", "🦊 fox", "\u200fقطة", "Robert\"; --", "a\u202eb"]
    await fake.push(chat=private_chat(ANN), **{"from": user(ANN)}, text="/labels " + ", ".join(odd))
    await fake.wait_for(lambda: len(fake.sent(ANN)) == 1)
    assert fake.sent(ANN)[0]["text"].startswith("Labels set (5): ")
    await fake.push(chat=private_chat(ANN), **{"from": user(ANN)}, text="/labels")
    await fake.wait_for(lambda: len(fake.sent(ANN)) == 2)
    shown: Any = fake.sent(ANN)[1]["text"]
    assert "cat&#x27;); DROP TABLE chat_labels;--" in shown or "cat'); DROP TABLE chat_labels;--" in shown
    for label in ("🦊 fox", "قطة", "a\u202eb"):
        assert label in shown
