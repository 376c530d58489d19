from __future__ import annotations

from pathlib import Path

from telegram.ext import Application

from tests.conftest import sample
from tests.fake_telegram import FakeTelegram, private_chat, user

ANN = 501


async def test_a_photo_is_answered_with_the_top_label(bot: Application, fake: FakeTelegram,  # type: ignore[type-arg]
                                                       samples_dir: Path) -> None:
    photo = fake.photo([(64, 64, sample(samples_dir, "fox"))])
    message = await fake.push(chat=private_chat(ANN), **{"from": user(ANN)}, photo=photo)
    await fake.wait_for(lambda: len(fake.sent(ANN)) == 1)
    [answer] = fake.sent(ANN)
    first, *rest = answer["text"].split("\n")
    assert first.startswith("<b>fox</b> — ") and first.endswith("%")
    assert len(rest) == 2
    assert answer["parse_mode"] == "HTML"
    assert answer["reply_parameters"]["message_id"] == message["message_id"]
