"""From a message with a picture to a prediction: the rate limit, a running game's pictures kept out,
the download, the worker, and one sentence for every way that can go wrong.

A picture is known to the worker by Telegram's file_unique_id of the file that would be
downloaded: one seen before (by any chat) is not downloaded again, and one that many chats send at
once is downloaded once (classifier/batching/worker.py).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from telegram import Message, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.conversation.floods import sender_of
from bot.conversation.services import services
from bot.conversation.turn import reply
from bot.state.ratelimit import Verdict
from bot.telemetry.metrics import Outcome, Stage, metrics_of
from bot.transport.pictures import NoPicture, Picture, PictureTooLarge, download, find_picture
from bot.words import replies
from bot.words.i18n import Speaker
from classifier import ImageError, LabelsWaiting, Prediction, WorkerBusy, WorkerStopped

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recognised:
    """A prediction, and the picture it was made from (its file, to download again for "Where?")."""

    prediction: Prediction
    picture: Picture

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels it chose from, most likely first."""
        return tuple(label for label, _ in self.prediction.ranking)


def picture_key(picture: Picture) -> str | None:
    """The worker's key for a Telegram file; None when Telegram gave no file_unique_id."""
    return f"telegram:{picture.file_unique_id}" if picture.file_unique_id else None


async def recognise(update: Update, context: ContextTypes.DEFAULT_TYPE, source: Message,
                    labels: tuple[str, ...] | None, t: Speaker, *, open_set: bool = False) -> Recognised | None:
    """Download and classify the picture in source; on any refusal, answer why and return None.

    Used by /classify, plain pictures and the game: every answer quotes source. With open_set the
    prediction also says whether the picture shows none of the labels (the game never asks: its
    round's options are the question).
    """
    svc, metrics = services(context), metrics_of(context)
    verdict = svc.rate_limit.check(sender_of(update))
    if verdict is not Verdict.ALLOW:
        metrics.answered(Outcome.RATE_LIMITED)
        if verdict is Verdict.WARN:
            await reply(source, replies.rate_limited(t))
        return None
    max_bytes = svc.settings.classifier.max_image_bytes

    async def fetch() -> bytes:  # called only for a picture not seen before
        started = time.perf_counter()
        data = await download(context.bot, picture, max_bytes)
        metrics.observe(Stage.DOWNLOAD, time.perf_counter() - started)
        return data

    try:
        with metrics.in_flight.track_inprogress():
            picture = find_picture(source, svc.classifier.image_size)
            if svc.games.in_play(source):  # its answer would give a running round away
                await reply(source, replies.picture_in_game(t))
                return None
            chosen = labels or await svc.labels_for(source.chat_id)
            return Recognised(await svc.worker.classify(fetch, chosen, key=picture_key(picture),
                                                        owner=update.effective_chat.id if update.effective_chat
                                                        else None, open_set=open_set), picture)
    except (NoPicture, ImageError) as exc:
        metrics.answered(Outcome.REFUSED)
        await reply(source, replies.explained(t, exc))
    except PictureTooLarge as exc:
        metrics.answered(Outcome.REFUSED)
        await reply(source, replies.too_large(t, int(exc.args[0]), max_bytes))
    except LabelsWaiting:
        metrics.answered(Outcome.BUSY)
        await reply(source, replies.labels_waiting(t))
    except WorkerBusy:
        metrics.answered(Outcome.BUSY)
        await reply(source, replies.busy(t))
    except WorkerStopped:
        metrics.answered(Outcome.BUSY)
        await reply(source, replies.stopping(t))
    except TelegramError as exc:
        metrics.answered(Outcome.ERROR)
        logger.warning("Could not download a picture in chat %s: %s", source.chat_id, exc)
        await reply(source, replies.download_failed(t))
    return None
