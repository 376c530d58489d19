"""A tiny multilingual CLIP: the tiny CLIP's recipe with Russian words and a Hugging Face tokenizer.

    python -m tests.tiny_multilingual OUT_DIR

The tokenizer is built here with the `tokenizers` library (a word-level vocabulary of the Russian
templates and animal names) and saved to OUT_DIR/tokenizer, a folder the model-config JSON names
(`hf_tokenizer_name`), so open_clip reads it through transformers exactly as it reads a published
multilingual model's. Its end-of-text token has the highest id, so CLIP's own text tower pools at it.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

from classifier.text.prompts import RUSSIAN_TEMPLATES
from tests import tiny_clip

WORDS = ["кошка", "собака", "лиса", "медведь", "кролик", "мышь", "утка", "свинья", "лев", "слон"]
TEMPLATES = (*RUSSIAN_TEMPLATES, "{}")
CONTEXT = 16
SPECIALS = ("[PAD]", "[UNK]")  # ids 0 and 1; [EOS] comes last, with the highest id
RECIPE = {"version": 1, "words": WORDS, "templates": list(TEMPLATES), "base": tiny_clip.RECIPE, "context": CONTEXT}


def recipe_hash() -> str:
    return hashlib.sha256(json.dumps(RECIPE, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def build_tokenizer(folder: Path) -> int:
    """Write a Hugging Face tokenizer for the Russian prompts to folder; returns its vocabulary size."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    words = sorted({w for text in (*TEMPLATES, *WORDS) for w in re.findall(r"\w+|[^\w\s]", text.lower())} - {"{", "}"})
    vocab = {token: i for i, token in enumerate((*SPECIALS, *words, "[EOS]"))}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(single="$A [EOS]", special_tokens=[
        ("[EOS]", vocab["[EOS]"])])
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="[PAD]", unk_token="[UNK]",
                                   eos_token="[EOS]", model_max_length=CONTEXT)
    fast.save_pretrained(str(folder))
    return len(vocab)


def build(out: Path) -> tuple[Path, Path]:
    """Build the tiny multilingual model into out (or reuse it); returns (config path, checkpoint path)."""
    def make(config: Path, checkpoint: Path) -> None:
        from open_clip.tokenizer import HFTokenizer

        vocab_size = build_tokenizer(out / "tokenizer")
        text_cfg = {**tiny_clip.MODEL_CFG["text_cfg"], "context_length": CONTEXT, "vocab_size": vocab_size,
                    "hf_tokenizer_name": "tokenizer"}  # a folder beside the config
        model_cfg = {**tiny_clip.MODEL_CFG, "text_cfg": text_cfg}
        config.write_text(json.dumps({"model_cfg": model_cfg, "preprocess_cfg": tiny_clip.PREPROCESS_CFG}, indent=2))
        tokenizer = HFTokenizer(str(out / "tokenizer"), context_length=CONTEXT)
        tiny_clip.train(checkpoint, model_cfg, WORDS, TEMPLATES, tokenizer)
        tiny_clip.write_samples(out, WORDS)

    return tiny_clip.cached(out, "tiny_multilingual", recipe_hash(), make)


if __name__ == "__main__":
    sys.exit(tiny_clip.command(build, "tests.tiny_multilingual", sys.argv[1:]))
