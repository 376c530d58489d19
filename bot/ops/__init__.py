"""What serves the operator: Prometheus metrics, the health check, /stats, backups and the HTTP
endpoint that serves the first two (README, Operating toonclip)."""
