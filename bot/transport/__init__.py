"""The way to Telegram: sending through failures, moves and blocks (delivery), the order of a chat's
updates (ordering), every HTTP request observed (requests), and a message's picture found and
downloaded (pictures)."""
