"""toonclip's Telegram bot. Its rooms, lowest first; a room imports only the rooms below it
(tests/test_imports.py keeps it so):

- ``settings``: the bot's settings, read once.
- ``words``: every sentence the bot says, the languages and their catalogs; takes plain values.
- ``state``: what keeps state: the SQLite schema and queries, chat moves, albums, rate limits.
- ``telemetry``: Prometheus metrics, a picture's timed trace, the event loop's lag.
- ``transport``: the way to Telegram: sending, the order of a chat's updates, every request
  observed, finding and downloading a message's picture.
- ``conversation``: what users talk to: the handlers, the game, /forget.
- ``ops``: the operator's side: /metrics and /healthz, /stats, backups, logging.
- ``app`` (the one assembly), ``bench`` and ``__main__`` on top.
"""
