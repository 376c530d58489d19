"""The operator's side: the HTTP endpoint for /metrics and /healthz (server, health, runtime),
/stats in Telegram, backups, and logging that never writes the token (docs/operating.md)."""
