"""A fake Telegram Bot API server on 127.0.0.1, speaking Telegram's JSON shapes.

It answers the methods the bot uses, serves files, queues updates for getUpdates
and records every call, so tests can drive the real Application over HTTP. It runs on
a thread of its own with its own event loop: a bot that starves its own loop is slow to
the fake as it would be to Telegram, and a timeout in a test means the bot was slow.

A chat's life as Telegram documents it: a group upgraded to a supergroup answers every request
to its old id with 400 and parameters.migrate_to_chat_id (ChatMigrated), and tells of the upgrade
with two service messages (migrate_to_chat_id in the old chat, migrate_from_chat_id in the new);
a chat that blocked or removed the bot answers with 403 Forbidden; the bot's own membership changes
come as my_chat_member updates; messages in a forum topic carry message_thread_id and
is_topic_message, and so do the bot's messages sent there.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from PIL import Image

TOKEN = "123456:TEST-token-never-logged"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "Toonclip", "username": "toonclip_bot",
            "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}
ADMIN_FIELDS = ("can_be_edited", "is_anonymous", "can_manage_chat", "can_delete_messages",
                "can_manage_video_chats", "can_restrict_members", "can_promote_members", "can_change_info",
                "can_invite_users", "can_post_stories", "can_edit_stories", "can_delete_stories")


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    wall: float = field(default_factory=time.time)  # Unix time, to compare with an update's date
    result: Any = None


class FakeTelegram:
    """Start with `await fake.start()`; point the bot at fake.base_url and fake.base_file_url."""

    def __init__(self, token: str = TOKEN, poll_cap: float = 0.5) -> None:
        self.token = token
        self.poll_cap = poll_cap
        self.calls: list[Call] = []
        self.updates: list[dict[str, Any]] = []
        self.files: dict[str, bytes] = {}
        self.downloads: list[str] = []
        self.delivered: list[int] = []  # update ids returned by getUpdates, in order
        self.pushed: dict[int, int] = {}  # message id -> the id of the update that carried it
        self.members: dict[tuple[int, int], str] = {}
        self.unsized: set[str] = set()  # file ids whose getFile answer leaves out file_size (it is optional)
        self.chats: dict[int, dict[str, Any]] = {}
        # method -> queue of (status, description, retry_after) to answer instead of the real thing
        self.failures: dict[str, list[tuple[int, str, int | None]]] = {}
        # method -> queue of delays: the call is carried out and recorded, then answered this late
        self.stalls: dict[str, list[float]] = {}
        self.upgraded: dict[int, int] = {}  # a group's old id -> its supergroup's id
        self.refusing: dict[int, str] = {}  # chat id -> the Forbidden description it answers with
        # methods that go unanswered while listed here: their calls hang, as when Telegram stops answering
        self.unanswered: set[str] = set()
        # method -> event: every call is carried out and recorded, and answered once the event is set
        self.holds: dict[str, threading.Event] = {}
        self._update_ids = itertools.count(1)
        self.last_update_id = 0  # the id of the latest update pushed
        self._message_ids = itertools.count(100_000)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._changed: asyncio.Condition | None = None  # on the server's loop
        self._runner: web.AppRunner | None = None
        self.port = 0

    # Server, on its own thread

    async def start(self) -> None:
        """Start the server on a thread of its own; returns once it listens."""
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        caller = asyncio.get_running_loop()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._start_here())
            except BaseException as exc:  # tell the caller, then give up
                caller.call_soon_threadsafe(ready.set_exception, exc)
                loop.close()
                return
            caller.call_soon_threadsafe(ready.set_result, None)
            loop.run_forever()
            loop.run_until_complete(self._stop_here())
            loop.close()

        self._thread = threading.Thread(target=serve, name="fake-telegram", daemon=True)
        self._thread.start()
        await ready

    async def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            await asyncio.to_thread(self._thread.join)
            self._thread = None

    async def _on_server(self, coroutine: Any) -> Any:
        """Run a coroutine on the server's loop and wait for it here."""
        assert self._loop is not None
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self._loop))

    async def _notify(self) -> None:
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()

    async def _stop_here(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _start_here(self) -> None:
        self._changed = asyncio.Condition()
        app = web.Application(client_max_size=64 * 2**20)
        app.router.add_post("/bot{token}/{method}", self._api)
        app.router.add_get("/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return dict(await request.json())
        form = await request.post()  # multipart: an uploaded file's part becomes its bytes
        params: dict[str, Any] = {}
        for key, value in form.items():
            if isinstance(value, str):
                params[key] = value
            else:
                with value.file:  # aiohttp spools it to a temporary file: closed here, not by the collector
                    params[key] = value.file.read()
        return params

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        params = await self._params(request)
        call = Call(method, params)
        self.calls.append(call)
        await self._notify()
        while method in self.unanswered:
            await asyncio.sleep(0.05)
        planned = self.failures.get(method)
        if planned:
            status, description, retry_after = planned.pop(0)
            body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
            if retry_after is not None:
                body["parameters"] = {"retry_after": retry_after}
            return web.json_response(body, status=status)
        refusal = self._refusal(params.get("chat_id"))
        if refusal is not None:
            return web.json_response(refusal, status=refusal["error_code"])
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return web.json_response({"ok": False, "error_code": 404, "description": f"Not Found: {method}"},
                                     status=404)
        try:
            result = await handler(params)
        except LookupError as exc:
            return web.json_response({"ok": False, "error_code": 400, "description": f"Bad Request: {exc}"},
                                     status=400)
        call.result = result
        stalls = self.stalls.get(method)
        if stalls:  # done and recorded, but the answer comes too late for the bot to read it
            await asyncio.sleep(stalls.pop(0))
        hold = self.holds.get(method)
        while hold is not None and not hold.is_set():  # polled: the test's thread sets it
            await asyncio.sleep(0.005)
        return web.json_response({"ok": True, "result": result})

    async def _file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        file_id = request.match_info["path"].removeprefix("files/")
        if file_id not in self.files:
            return web.Response(status=404)
        self.downloads.append(file_id)
        return web.Response(body=self.files[file_id], content_type="application/octet-stream")

    # Methods

    async def _m_getMe(self, params: dict[str, Any]) -> Any:
        return BOT_USER

    async def _m_deleteWebhook(self, params: dict[str, Any]) -> Any:
        return True

    async def _m_setMyCommands(self, params: dict[str, Any]) -> Any:
        return True

    async def _m_setWebhook(self, params: dict[str, Any]) -> Any:
        return True

    async def _m_getUpdates(self, params: dict[str, Any]) -> Any:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        if offset:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]  # confirmed ones are gone
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), self.poll_cap)
        assert self._changed is not None
        async with self._changed:
            while not self.updates and time.monotonic() < deadline:
                try:
                    await asyncio.wait_for(self._changed.wait(), deadline - time.monotonic())
                except TimeoutError:
                    break
        batch = self.updates[:limit]
        self.delivered += [u["update_id"] for u in batch]
        return batch

    async def _m_getFile(self, params: dict[str, Any]) -> Any:
        file_id = params["file_id"]
        if file_id not in self.files:
            raise LookupError("invalid file_id")
        found = {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": len(self.files[file_id]),
                 "file_path": f"files/{file_id}"}
        if file_id in self.unsized:
            del found["file_size"]
        return found

    def _sent_message(self, params: dict[str, Any], **extra: Any) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        return {"message_id": next(self._message_ids), "date": int(time.time()),
                "chat": self.chats.get(chat_id, {"id": chat_id, "type": "private"}), "from": BOT_USER, **extra}

    def _refusal(self, chat_id: Any) -> dict[str, Any] | None:
        """Telegram's answer to any request naming an upgraded group's old id, or a chat that shut the bot out."""
        try:
            chat = int(chat_id)
        except (TypeError, ValueError):
            return None
        if chat in self.upgraded:
            return {"ok": False, "error_code": 400,
                    "description": "Bad Request: group chat was upgraded to a supergroup chat",
                    "parameters": {"migrate_to_chat_id": self.upgraded[chat]}}
        if chat in self.refusing:
            return {"ok": False, "error_code": 403, "description": self.refusing[chat]}
        return None

    async def _m_sendMessage(self, params: dict[str, Any]) -> Any:
        if params.get("message_thread_id"):  # sent into a forum topic
            return self._sent_message(params, text=params["text"], message_thread_id=int(params["message_thread_id"]),
                                      is_topic_message=True)
        return self._sent_message(params, text=params["text"])

    async def _m_sendPhoto(self, params: dict[str, Any]) -> Any:
        """A photo uploaded as multipart (or an attach:// part): Telegram answers with a Message whose
        photo is the sizes it made, the largest at most 1280 pixels on its long side."""
        photo = params.get("photo")
        if isinstance(photo, str) and photo.startswith("attach://"):
            photo = params.get(photo.removeprefix("attach://"))
        if not isinstance(photo, bytes):
            raise LookupError("wrong file identifier/HTTP URL specified")
        with Image.open(io.BytesIO(photo)) as image:
            width, height = image.size
        sizes = []
        for side in (90, 320, 800, 1280):
            scale = min(1.0, side / max(width, height))
            sizes.append({"file_id": self.add_file(photo), "file_unique_id": f"s{len(self.files)}",
                          "width": round(width * scale), "height": round(height * scale), "file_size": len(photo)})
            if scale == 1.0:
                break
        extra: dict[str, Any] = {"photo": sizes}
        if params.get("caption"):
            extra["caption"] = params["caption"]
        if params.get("message_thread_id"):
            extra |= {"message_thread_id": int(params["message_thread_id"]), "is_topic_message": True}
        return self._sent_message(params, **extra)

    async def _m_editMessageText(self, params: dict[str, Any]) -> Any:
        message = self._sent_message(params, text=params["text"])
        message["message_id"] = int(params["message_id"])
        return message

    async def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> Any:
        message = self._sent_message(params, text="")
        message["message_id"] = int(params["message_id"])
        return message

    async def _m_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        return True

    async def _m_getChatMember(self, params: dict[str, Any]) -> Any:
        chat_id, user_id = int(params["chat_id"]), int(params["user_id"])
        status = self.members.get((chat_id, user_id), "member")
        member: dict[str, Any] = {"status": status, "user": {"id": user_id, "is_bot": False, "first_name": "U"}}
        if status == "administrator":
            member |= dict.fromkeys(ADMIN_FIELDS, False) | {"can_manage_chat": True}
        if status == "creator":
            member["is_anonymous"] = False
        return member

    # Building updates

    def add_file(self, data: bytes, file_id: str | None = None) -> str:
        file_id = file_id or f"file{len(self.files) + 1}"
        self.files[file_id] = data
        return file_id

    def photo(self, sizes: list[tuple[int, int, bytes]]) -> list[dict[str, Any]]:
        """PhotoSize dicts for (width, height, bytes) triples, registering each file."""
        return [{"file_id": self.add_file(data), "file_unique_id": f"p{len(self.files)}", "width": w,
                 "height": h, "file_size": len(data)} for w, h, data in sizes]

    def thumbnail(self, width: int, height: int, data: bytes) -> dict[str, Any]:
        """A PhotoSize dict for a media file's thumbnail, registering its file."""
        return {"file_id": self.add_file(data), "file_unique_id": f"t{len(self.files)}", "width": width,
                "height": height, "file_size": len(data)}

    def _media(self, data: bytes, thumbnail: dict[str, Any] | None, file_size: int | None,
               **fields: Any) -> dict[str, Any]:
        media = {"file_id": self.add_file(data), "file_unique_id": f"m{len(self.files)}",
                 "file_size": len(data) if file_size is None else file_size, **fields}
        if thumbnail is not None:
            media["thumbnail"] = thumbnail
        return media

    def animation(self, data: bytes, width: int, height: int, thumbnail: dict[str, Any] | None = None,
                  file_size: int | None = None, mime_type: str = "video/mp4") -> dict[str, Any]:
        """Message fields for a GIF as Telegram delivers it: an MP4 `animation` and, as for older
        clients, a `document` with the same file."""
        animation = self._media(data, thumbnail, file_size, width=width, height=height, duration=2,
                                file_name="giphy.mp4", mime_type=mime_type)
        document = {key: animation[key] for key in ("file_id", "file_unique_id", "file_size", "file_name",
                                                     "mime_type")}
        if thumbnail is not None:
            document["thumbnail"] = thumbnail
        return {"animation": animation, "document": document}

    def video(self, data: bytes, width: int, height: int, thumbnail: dict[str, Any] | None = None,
              file_size: int | None = None, mime_type: str = "video/mp4") -> dict[str, Any]:
        """A Video dict (message.video)."""
        return self._media(data, thumbnail, file_size, width=width, height=height, duration=2, mime_type=mime_type)

    def video_note(self, data: bytes, length: int, thumbnail: dict[str, Any] | None = None) -> dict[str, Any]:
        """A VideoNote dict (message.video_note): the round videos, square."""
        return self._media(data, thumbnail, None, length=length, duration=2)

    def document(self, data: bytes, file_name: str, mime_type: str,
                 thumbnail: dict[str, Any] | None = None) -> dict[str, Any]:
        """A Document dict (message.document)."""
        return self._media(data, thumbnail, None, file_name=file_name, mime_type=mime_type)

    def sticker(self, data: bytes, *, animated: bool = False, video: bool = False,
                thumbnail: dict[str, Any] | None = None) -> dict[str, Any]:
        """A Sticker dict (message.sticker): 512×512; TGS when animated, WebM when video."""
        return self._media(data, thumbnail, None, width=512, height=512, is_animated=animated, is_video=video,
                           type="regular")

    async def push(self, **message: Any) -> dict[str, Any]:
        """Queue a message update; returns the message."""
        message.setdefault("message_id", next(self._message_ids))
        message.setdefault("date", int(time.time()))
        for key, entities in (("text", "entities"), ("caption", "caption_entities")):
            text = message.get(key)
            if isinstance(text, str) and text.startswith("/"):
                message.setdefault(entities, [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}])
        self.chats[message["chat"]["id"]] = message["chat"]
        self.pushed[message["message_id"]] = await self.push_update({"message": message})
        return message

    def upgrade(self, old: dict[str, Any], new_id: int) -> dict[str, Any]:
        """Telegram turns a basic group into a supergroup; requests to the old id get ChatMigrated from now.
        Returns the new chat (the service messages are pushed by the test, in the order it wants)."""
        self.upgraded[old["id"]] = new_id
        new = {"id": new_id, "type": "supergroup", "title": old.get("title", "Group")}
        self.chats[new_id] = new
        return new

    async def migrate_to(self, old: dict[str, Any], new_id: int, by: dict[str, Any]) -> dict[str, Any]:
        """The service message in the old group: it became the supergroup new_id."""
        return await self.push(chat=old, **{"from": by}, migrate_to_chat_id=new_id)

    async def migrate_from(self, new: dict[str, Any], old_id: int, by: dict[str, Any]) -> dict[str, Any]:
        """The service message in the new supergroup: it was the group old_id."""
        return await self.push(chat=new, **{"from": by}, migrate_from_chat_id=old_id)

    def refuse(self, chat_id: int, description: str = "Forbidden: bot was blocked by the user") -> None:
        """From now on the chat answers every request with 403 and this description."""
        self.refusing[chat_id] = description

    async def my_chat_member(self, chat: dict[str, Any], by: dict[str, Any], old: str, new: str) -> int:
        """The bot's own membership changed (member, administrator, left, kicked)."""
        def member(status: str) -> dict[str, Any]:
            found: dict[str, Any] = {"status": status, "user": BOT_USER}
            if status == "kicked":
                found["until_date"] = 0
            if status == "administrator":
                found |= dict.fromkeys(ADMIN_FIELDS, False) | {"can_manage_chat": True}
            return found

        return await self.push_update({"my_chat_member": {"chat": chat, "from": by, "date": int(time.time()),
                                                          "old_chat_member": member(old),
                                                          "new_chat_member": member(new)}})

    async def push_update(self, update: dict[str, Any]) -> int:
        """Queue an update for getUpdates (on the server's loop, which owns the queue)."""
        return int(await self._on_server(self._push_here(update)))

    async def _push_here(self, update: dict[str, Any]) -> int:
        update_id = next(self._update_ids)
        self.last_update_id = update_id
        self.updates.append({"update_id": update_id, **update})
        await self._notify()
        return update_id

    # Reading what the bot did

    def sent(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """sendMessage calls, optionally for one chat, with reply_parameters decoded."""
        found = []
        for call in self.calls:
            if call.method != "sendMessage" or (chat_id is not None and int(call.params["chat_id"]) != chat_id):
                continue
            params = dict(call.params)
            for key in ("reply_parameters", "reply_markup"):
                if isinstance(params.get(key), str):
                    params[key] = json.loads(params[key])
            found.append(params)
        return found

    def photos(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """sendPhoto calls that Telegram took, optionally for one chat: the uploaded bytes under "photo",
        reply_parameters decoded."""
        found = []
        for call in self.methods("sendPhoto"):
            if call.result is None or (chat_id is not None and int(call.params["chat_id"]) != chat_id):
                continue
            params = dict(call.params)
            if isinstance(params.get("reply_parameters"), str):
                params["reply_parameters"] = json.loads(params["reply_parameters"])
            found.append(params)
        return found

    def methods(self, name: str) -> list[Call]:
        return [call for call in self.calls if call.method == name]

    def confirmed(self, update_id: int) -> bool:
        """Whether the bot has taken the update and every one before it: it polled again past them
        (python-telegram-bot queues a batch of updates before it asks for the next)."""
        return update_id == 0 or any(int(call.params.get("offset") or 0) > update_id
                                     for call in self.methods("getUpdates"))

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 60.0) -> None:
        """Wait until condition() holds, re-checked every 10 ms; fail after timeout.

        The default is far longer than any single answer takes even on a slow machine: it only
        bounds how long a broken bot keeps the suite waiting.
        """
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"the bot did not do what was expected within {timeout:.0f} s")
            await asyncio.sleep(0.01)


def user(user_id: int, first_name: str = "Ann", **extra: Any) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": first_name, **extra}


# Telegram's shared senders: every anonymous group administrator's message comes from GroupAnonymousBot, and
# every message sent on behalf of a channel from Channel_Bot; `sender_chat` names the group or channel.
GROUP_ANONYMOUS_BOT = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}
CHANNEL_BOT = {"id": 136817688, "is_bot": True, "first_name": "Channel", "username": "Channel_Bot"}


def as_anonymous_admin(group: dict[str, Any]) -> dict[str, Any]:
    """Message fields of an anonymous administrator's message in group."""
    return {"from": GROUP_ANONYMOUS_BOT, "sender_chat": group}


def as_channel(channel_id: int, title: str = "Channel") -> dict[str, Any]:
    """Message fields of a message sent on behalf of a channel."""
    return {"from": CHANNEL_BOT, "sender_chat": {"id": channel_id, "type": "channel", "title": title}}


def private_chat(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "type": "private", "first_name": "Ann"}


def group_chat(chat_id: int, title: str = "Friends") -> dict[str, Any]:
    return {"id": chat_id, "type": "supergroup", "title": title}


def basic_group(chat_id: int, title: str = "Friends") -> dict[str, Any]:
    """A basic group, the kind Telegram upgrades to a supergroup."""
    return {"id": chat_id, "type": "group", "title": title}


def forum(chat_id: int, title: str = "Forum") -> dict[str, Any]:
    """A supergroup with topics."""
    return {"id": chat_id, "type": "supergroup", "title": title, "is_forum": True}
