"""The bot's words: every sentence it says (replies), in the reader's language (i18n and the gettext
catalogs in locales/), and whether a label set reads poorly to an English-only model (labelscript).
Nothing here imports state or telemetry: what a sentence needs arrives as plain values."""
