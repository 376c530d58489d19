"""Every sentence the bot says, in one place, in the reader's language. Labels are always HTML-escaped."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from bot.words.i18n import N_, Speaker
from classifier import Prediction
from classifier.messages import Explained


def busy(t: Speaker) -> str:
    return t("I'm busy right now — try again in a few seconds.")


def stopping(t: Speaker) -> str:
    return t("I'm restarting — send it again in a minute.")


def download_failed(t: Speaker) -> str:
    return t("Sorry, I couldn't download that picture from Telegram; please send it again.")


def internal_error(t: Speaker) -> str:
    return t("Sorry, something went wrong on my side; please try again.")


def admins_only(t: Speaker) -> str:
    return t("Only the group's admins can change its labels.")


def admins_only_language(t: Speaker) -> str:
    return t("Only the group's admins can change its language.")


def classify_usage(t: Speaker) -> str:
    return t("Reply to a photo, sticker or image file with /classify, or send a photo with /classify "
             "as its caption. Add labels to use them for this picture only: /classify cat, dog, fox")


def private_hint(t: Speaker) -> str:
    return t("Send me a photo, a sticker or an image file, and I'll tell you which animal it is. /help")


def rate_limited(t: Speaker) -> str:
    return t("You're sending pictures faster than I can look at them; please wait a minute.")


def slow_down(t: Speaker) -> str:
    return t("You're sending me messages faster than I can answer; please wait a minute.")


def labels_waiting(t: Speaker) -> str:
    return t("I'm still learning this chat's last new labels; please wait a little before adding more.")


def picture_in_game(t: Speaker) -> str:
    return t("That picture is in a game right now; wait for the reveal.")


def too_large(t: Speaker, size: int, limit: int) -> str:
    return t("That file is {size} MB; the limit is {limit} MB.", size=round(size / 2**20, 1),
             limit=round(limit / 2**20))


def explained(t: Speaker, error: Explained) -> str:
    """A classifier's or the picture finder's sentence, translated and made safe for HTML."""
    return escape(t.explain(error), quote=False)


def label_name(t: Speaker, label: str) -> str:
    """What a chat sees for a label: a default animal in its language, any other label as written."""
    return t.animal(label)


LISTED_LABELS = 5  # labels named in "I don't see any of: …" before the list is cut


def prediction(t: Speaker, result: Prediction, shown: int = 3) -> str:
    """Top label bold with its probability, then the next ones: 'fox — 87%'. When the picture shows
    none of the labels (an open-set answer): one line that says so, naming the first LISTED_LABELS
    labels, then the closest label as a guess, in italics, with its share against everything else."""
    if result.none_of_these:
        labels = [label for label, _ in result.ranking]
        listed = label_list(t, labels[:LISTED_LABELS]) + ("…" if len(labels) > LISTED_LABELS else "")
        guess = f"<i>{escape(label_name(t, result.label))}</i>"
        return (t("I don't see any of: {labels}", labels=listed) + "\n"
                + t("My closest guess: {label} — {probability}", label=guess,
                    probability=t.percent(result.open_probability)))
    lines = []
    for i, (label, probability) in enumerate(result.top(shown)):
        name = escape(label_name(t, label))
        lines.append(f"{f'<b>{name}</b>' if i == 0 else name} — {t.percent(probability)}")
    return "\n".join(lines)


def label_list(t: Speaker, labels: Sequence[str]) -> str:
    return ", ".join(escape(label_name(t, label)) for label in labels)


def labels_shown(t: Speaker, labels: Sequence[str], is_default: bool) -> str:
    if is_default:
        first = t("Labels (the default set, {count}): {labels}", count=len(labels), labels=label_list(t, labels))
    else:
        first = t("Labels (this chat's own set, {count}): {labels}", count=len(labels), labels=label_list(t, labels))
    return first + "\n" + t("Change them with /labels cat, dog, fox — or go back with /labels reset.")


def labels_set(t: Speaker, labels: Sequence[str]) -> str:
    return t("Labels set ({count}): {labels}", count=len(labels), labels=label_list(t, labels))


def labels_reset(t: Speaker, labels: Sequence[str]) -> str:
    return t("Back to the default labels: {labels}", labels=label_list(t, labels))


def labels_refused(t: Speaker, error: Explained) -> str:
    return explained(t, error) + " " + t("The labels stay as they were.")


def english_model_note(t: Speaker, setting: str) -> str:
    return t("Note: the model reads English, so labels in other languages or scripts are understood poorly. "
             "The bot's owner can set {setting} to a multilingual model.", setting=setting)


def game_usage(t: Speaker) -> str:
    return t("Reply to a photo, sticker or image file with /game, or send a photo with /game as its caption.")


def round_running(t: Speaker, seconds: int) -> str:
    return t("A round is already running: {seconds} s left.", seconds=seconds)


def round_question(t: Speaker, votes: int) -> str:
    """The round's message: the question and how many have voted."""
    return t("Which animal does the AI see?") + "\n" + t.plural("Votes: {n}", "Votes: {n}", votes)


def reveal(t: Speaker, answer: str, probability: float, winners: Sequence[str], votes: int,
           restarted: bool = False) -> str:
    """The end of a round: what the AI saw, who was right (display names, escaped here)."""
    lines = [t("The AI saw: <b>{answer}</b> ({probability}).", answer=escape(label_name(t, answer)),
               probability=t.percent(probability))]
    if winners:
        lines.append(t.plural("Right: {names} — one point each.", "Right: {names} — one point each.", len(winners),
                              names=", ".join(escape(name) for name in winners)))
    elif votes:
        lines.append(t("Nobody got it right."))
    else:
        lines.append(t("Nobody voted."))
    if restarted:
        lines.append(t("(This round was cut short by a restart of the bot.)"))
    return "\n".join(lines)


def admins_only_forget(t: Speaker) -> str:
    return t("Only the group's admins can delete its data.")


def forget_usage(t: Speaker) -> str:
    return t("Send /forget to delete what I keep about this chat, or /forget me in a private chat with me "
             "to delete your name, votes and points everywhere.")


def forget_me_in_private(t: Speaker) -> str:
    return t("Send /forget me in a private chat with me: your name, votes and points are deleted from every chat.")


def forget_chat_question(t: Speaker) -> str:
    return t("Delete everything I keep about this chat: its labels, language, notes, game rounds, votes and "
             "scores? This cannot be undone.")


def forget_me_question(t: Speaker) -> str:
    return t("Delete your name, votes and points from every chat, and this chat's labels and language? "
             "This cannot be undone.")


def forget_button(t: Speaker) -> str:
    return t("Delete")


def keep_button(t: Speaker) -> str:
    return t("Keep")


def nothing_forgotten(t: Speaker) -> str:
    return t("Nothing was deleted.")


def chat_forgotten(t: Speaker, *, labels: int, settings: int, notes: int, rounds: int, votes: int,
                   scores: int) -> str:
    """What /forget deleted, counted (rows per kind)."""
    return t("Deleted everything I kept about this chat — label sets: {labels}, settings: {settings}, "
             "notes: {notes}, game rounds: {rounds}, votes: {votes}, scores: {scores}.",
             labels=labels, settings=settings, notes=notes, rounds=rounds, votes=votes, scores=scores)


def player_forgotten(t: Speaker, *, votes: int, points: int, chats: int) -> str:
    """What /forget me deleted, counted."""
    return t("Deleted your name, votes and points from every chat — votes: {votes}, points: {points}, "
             "chats: {chats} — and this chat's labels and language.",
             votes=votes, points=points, chats=chats)


def where_button(t: Speaker) -> str:
    return t("Where?")


def where_caption(t: Speaker, label: str) -> str:
    """The legend under a map of where the AI looked."""
    return t("Where I saw <b>{label}</b>: yellow looks most like it, dark purple least (against the other "
             "labels). I looked only inside the outlined square; the bar below runs from least to most.",
             label=label_name(t, label))


def where_gone(t: Speaker) -> str:
    return t("I no longer have that picture, so I can't show where I looked; send it again.")


def where_not_yours(t: Speaker) -> str:
    return t("Only the person who asked can see where I looked.")


def where_unsupported(t: Speaker) -> str:
    return t("This model can't show where it looked.")


def button_invalid(t: Speaker) -> str:
    return t("This button is not valid.")


def round_over(t: Speaker) -> str:
    return t("This round is over.")


def already_voted(t: Speaker) -> str:
    return t("You already voted.")


def vote_taken(t: Speaker, label: str) -> str:
    return t("You picked {label}", label=label_name(t, label))


def no_round(t: Speaker) -> str:
    return t("No round is running. Start one with /game.")


def starter_only(t: Speaker) -> str:
    return t("Only the player who started the round, or an administrator, can reveal it.")


def leaderboard(t: Speaker, board: Sequence[tuple[str, int]]) -> str:
    """The chat's top players, or how to get on the board when it is empty."""
    if not board:
        return t("No points yet: start a round with /game.")
    lines = [t("<b>Leaderboard</b>")]
    lines += [f"{i}. {escape(name)} — {points}" for i, (name, points) in enumerate(board, start=1)]
    return "\n".join(lines)


def language_set(t: Speaker) -> str:
    # Said in the chosen language, so each catalog names its own language here.
    return t("This chat now speaks English.")


# Each switch of /settings by its name (bot/state/options.py ChatOption), as its button says it.
OPTION_TITLES = {
    "open_set": N_("Say “none of these” when no label fits"),
    "reveal_map": N_("Show where the AI looked at each reveal"),
}


def settings_text(t: Speaker) -> str:
    return t("This chat's settings; tap one to turn it on or off.")


def option_button(t: Speaker, name: str, enabled: bool) -> str:
    return f"{'✅' if enabled else '⬜'} {t(OPTION_TITLES[name])}"


def option_switched(t: Speaker, enabled: bool) -> str:
    return t("Turned on.") if enabled else t("Turned off.")


def admins_only_settings(t: Speaker) -> str:
    return t("Only the group's admins can change its settings.")


def language_usage(t: Speaker) -> str:
    return t("Choose the chat's language: /language en, ru, uk, es or pt")
