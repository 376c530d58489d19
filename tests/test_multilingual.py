"""A multilingual model reads Russian labels: the tiny one, through the CLI and the bot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from bot.settings import BotSettings
from classifier import ClassifierSettings, ZeroShotClassifier, create_classifier
from tests.conftest import TINY_ML_DIR, running_bot, tiny_multilingual_words
from tests.fake_telegram import FakeTelegram, private_chat, user

ROOT = Path(__file__).resolve().parent.parent
IVAN = 1201


def env_for(settings: ClassifierSettings) -> dict[str, str]:
    return {**os.environ, "CLIP_MODEL": settings.model, "CLIP_PRETRAINED": settings.pretrained,
            "CACHE_DIR": str(settings.cache_dir), "CLIP_DEVICE": "cpu", "CLIP_PRECISION": settings.precision}


def test_russian_labels_through_the_cli(ml_settings: ClassifierSettings) -> None:
    done = subprocess.run([sys.executable, "-m", "classifier", "eval", str(TINY_ML_DIR / "samples"), "--json"],
                          cwd=ROOT, env=env_for(ml_settings), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    print(f"\ntiny multilingual model, Russian labels: {report['accuracy']:.1%} of {report['total']} held-out samples")
    assert report["accuracy"] >= 0.9
    assert set(report["per_label"]) == set(tiny_multilingual_words())


def test_the_model_knows_it_reads_many_languages(ml_settings: ClassifierSettings,
                                                 classifier: ZeroShotClassifier) -> None:
    assert create_classifier(ml_settings).clip.multilingual
    assert not classifier.clip.multilingual  # the English tiny CLIP


async def test_a_russian_chat_with_russian_labels(ml_settings: ClassifierSettings, bot_settings: BotSettings,
                                                  fake: FakeTelegram) -> None:
    words = tiny_multilingual_words()
    samples = TINY_ML_DIR / "samples"
    async with running_bot(replace(bot_settings, classifier=ml_settings)):
        say = {"chat": private_chat(IVAN), "from": user(IVAN, "Иван", language_code="ru")}
        await fake.push(**say, text="/labels " + ", ".join(words))
        for word in ("лиса", "утка", "слон"):
            await fake.push(**say, photo=fake.photo([(64, 64, (samples / word / "00.png").read_bytes())]))
        await fake.wait_for(lambda: len(fake.sent(IVAN)) == 4)
    texts = [m["text"] for m in fake.sent(IVAN)]
    assert texts[0].startswith("Метки заданы (10): кошка, собака")  # and no note about an English model
    assert sorted(t.split("</b>")[0].removeprefix("<b>") for t in texts[1:]) == ["лиса", "слон", "утка"]
    assert all(t.split("\n")[0].endswith("\xa0%") for t in texts[1:])


def test_without_the_extra_the_error_names_it(ml_settings: ClassifierSettings) -> None:
    blocked = ("import sys; sys.modules['transformers'] = None; "
               "from classifier.cli import main; sys.exit(main(sys.argv[1:]))")
    picture = TINY_ML_DIR / "samples" / "лиса" / "00.png"
    done = subprocess.run([sys.executable, "-c", blocked, "predict", str(picture)], cwd=ROOT,
                          env=env_for(ml_settings), capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert "pip install -e '.[multilingual]'" in done.stderr and "Traceback" not in done.stderr


def test_a_sigmoid_model_shows_each_labels_own_probability(classifier: ZeroShotClassifier, samples_dir: Path) -> None:
    from PIL import Image

    image = Image.open(samples_dir / "fox" / "00.png").convert("RGB")
    labels = ["fox", "cat", "dog"]
    softmax = classifier.classify_images([image], labels)[0]
    assert abs(sum(p for _, p in softmax.ranking) - 1) < 1e-5
    classifier.clip.logit_bias = -10.0  # as a SigLIP checkpoint would carry
    sigmoid = classifier.classify_images([image], labels)[0]
    assert sigmoid.label == softmax.label == "fox"
    assert abs(sum(p for _, p in sigmoid.ranking) - 1) > 0.01  # independent per label, not a share of one


def test_cyrillic_labels_are_read_through_the_russian_templates(ml_settings: ClassifierSettings) -> None:
    from classifier.prompts import RUSSIAN_TEMPLATES
    from tests.test_zeroshot import cosine, ensemble_by_hand

    classifier = create_classifier(ml_settings)
    fox, mixed = classifier.label_embeddings(["лиса", "fox лиса"])
    russian = ensemble_by_hand(classifier.clip, [t.replace("{}", "лиса") for t in RUSSIAN_TEMPLATES])
    english = ensemble_by_hand(classifier.clip, [t.replace("{}", "лиса") for t in ml_settings.templates])
    assert len(RUSSIAN_TEMPLATES) == 8 and set(RUSSIAN_TEMPLATES).isdisjoint(ml_settings.templates)
    assert cosine(fox, russian) > 0.999 and cosine(fox, english) < cosine(fox, russian) - 1e-3
    # One Cyrillic letter is enough; a Latin label keeps the configured templates.
    assert cosine(mixed, ensemble_by_hand(classifier.clip, [t.replace("{}", "fox лиса") for t in RUSSIAN_TEMPLATES])
                  ) > 0.999
    [latin] = classifier.label_embeddings(["fox"])
    assert cosine(latin, ensemble_by_hand(classifier.clip, [t.replace("{}", "fox") for t in ml_settings.templates])
                  ) > 0.999
