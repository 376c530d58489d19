"""Text: label lists and their limits, prompt templates, a label's language, and the cache of label
text embeddings."""
