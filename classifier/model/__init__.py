"""The model: resolving a model spec (spec), loading open_clip's CLIP and running its two encoders
(clip), streaming checkpoint weights (weights), and what it needs of memory (memory)."""
