"""A multilingual model reads labels in Russian, Ukrainian, Spanish and Portuguese through templates in that
language: the tiny one, through the CLI and the bot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from bot.settings import BotSettings
from classifier import ClassifierSettings, ZeroShotClassifier, create_classifier
from classifier.text.prompts import (
    DEFAULT_TEMPLATES,
    LANGUAGE_TEMPLATES,
    PORTUGUESE_TEMPLATES,
    RUSSIAN_TEMPLATES,
    SPANISH_TEMPLATES,
    UKRAINIAN_TEMPLATES,
    check_templates,
    expand,
    language_templates,
    templates_for,
)
from tests.conftest import TINY_ML_DIR, idle, running_bot, tiny_multilingual_words
from tests.fake_telegram import FakeTelegram, private_chat, user

ROOT = Path(__file__).resolve().parent.parent
IVAN, ANA = 1201, 1202
# label -> the templates it is read through; Cyrillic words both languages write alike stay Russian,
# and a word Spanish and Portuguese share (gato, pato, elefante) is read as Spanish.
READ_AS = {
    "кошка": RUSSIAN_TEMPLATES, "мышь": RUSSIAN_TEMPLATES, "собака": RUSSIAN_TEMPLATES, "пес": RUSSIAN_TEMPLATES,
    "кіт": UKRAINIAN_TEMPLATES, "лисиця": UKRAINIAN_TEMPLATES, "ведмідь": UKRAINIAN_TEMPLATES,
    "миша": UKRAINIAN_TEMPLATES, "качка": UKRAINIAN_TEMPLATES, "свиня": UKRAINIAN_TEMPLATES,
    "zorro": SPANISH_TEMPLATES, "perro": SPANISH_TEMPLATES, "ratón": SPANISH_TEMPLATES, "ñandú": SPANISH_TEMPLATES,
    "gato": SPANISH_TEMPLATES, "oso polar": SPANISH_TEMPLATES,
    "raposa": PORTUGUESE_TEMPLATES, "cachorro": PORTUGUESE_TEMPLATES, "leão": PORTUGUESE_TEMPLATES,
    "onça": PORTUGUESE_TEMPLATES, "urso polar": PORTUGUESE_TEMPLATES,
    "fox": DEFAULT_TEMPLATES, "red panda": DEFAULT_TEMPLATES, "café": DEFAULT_TEMPLATES, "狐": DEFAULT_TEMPLATES,
}


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
    async with running_bot(replace(bot_settings, classifier=ml_settings)) as application:
        say = {"chat": private_chat(IVAN), "from": user(IVAN, "Иван", language_code="ru")}
        await fake.push(**say, text="/labels " + ", ".join(words))
        for word in ("лиса", "утка", "слон"):
            await fake.push(**say, photo=fake.photo([(64, 64, (samples / word / "00.png").read_bytes())]))
        await fake.push(chat=private_chat(ANA), **{"from": user(ANA, "Ana", language_code="es")},
                        text="/labels gato, perro, zorro")
        await idle(fake, application)
    assert [m["text"] for m in fake.sent(ANA)] == ["Etiquetas guardadas (3): gato, perro, zorro"]  # and no note
    texts = [m["text"] for m in fake.sent(IVAN)]
    assert len(texts) == 4
    assert texts[0].startswith("Метки заданы (10): кошка, собака")  # and no note about an English model
    assert sorted(t.split("</b>")[0].removeprefix("<b>") for t in texts[1:]) == ["лиса", "слон", "утка"]
    assert all(t.split("\n")[0].endswith("\xa0%") for t in texts[1:])


def test_each_language_has_eight_templates_for_drawings() -> None:
    assert set(LANGUAGE_TEMPLATES) == {"ru", "uk", "es", "pt"}
    for templates in LANGUAGE_TEMPLATES.values():
        assert len(set(check_templates(templates))) == len(DEFAULT_TEMPLATES)
    assert language_templates() == (*RUSSIAN_TEMPLATES, *UKRAINIAN_TEMPLATES, *SPANISH_TEMPLATES, *PORTUGUESE_TEMPLATES)


@pytest.mark.parametrize("label", list(READ_AS))
def test_a_label_is_read_through_templates_in_its_language(label: str) -> None:
    assert templates_for(label, DEFAULT_TEMPLATES) is READ_AS[label]


def test_the_classifier_encodes_a_label_through_its_languages_templates(classifier: ZeroShotClassifier) -> None:
    def mean_of(sentences: list[str]) -> torch.Tensor:
        return torch.nn.functional.normalize(classifier.clip.encode_texts(sentences).mean(dim=0), dim=-1)

    # Labels outside the lexicon (which reads zorro, raposa, лисиця as fox: tests/test_lexicon.py).
    for label, own in (("ñandú", SPANISH_TEMPLATES), ("onça", PORTUGUESE_TEMPLATES), ("ховрах", UKRAINIAN_TEMPLATES)):
        def run(label: str = label, own: tuple[str, ...] = own) -> tuple[float, float]:
            embedding = classifier.label_embeddings([label])[0]
            return (float(embedding @ mean_of(expand(label, own))),
                    float(embedding @ mean_of(expand(label, classifier.templates))))
        in_its_language, in_english = classifier.executor.submit(run).result()  # on the model's thread
        # Its own templates' mean, and measurably not the English ones' (0.991 with the tiny model).
        assert in_its_language > 0.999 and in_english < in_its_language - 0.002, (label, in_its_language, in_english)


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
    from classifier.text.prompts import RUSSIAN_TEMPLATES
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
