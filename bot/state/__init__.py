"""What keeps state: the SQLite schema and its migrations (schema), the queries (storage, and chats
for a chat's moves and forgetting), a chat's life on Telegram (lifecycle), albums waiting for their
caption, and the rate limits."""
