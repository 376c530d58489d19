"""What users talk to: the services the handlers share, a handler's turn, the handlers themselves,
recognising a picture, the guessing game's commands and rounds, and /forget."""
