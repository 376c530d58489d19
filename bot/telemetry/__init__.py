"""What the bot measures of itself: Prometheus metrics (one registry per application), the last day
of answers for /stats, a picture's timed trace through the bot, and the event loop's lag."""
