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
import time
from pathlib import Path

import torch

from classifier.prompts import RUSSIAN_TEMPLATES
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
    out.mkdir(parents=True, exist_ok=True)
    config, checkpoint, stamp = out / "tiny_multilingual.json", out / "tiny_multilingual.pt", out / "recipe.txt"
    if stamp.exists() and stamp.read_text() == recipe_hash() and config.exists() and checkpoint.exists():
        return config, checkpoint
    stamp.unlink(missing_ok=True)
    started = time.monotonic()
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    vocab_size = build_tokenizer(out / "tokenizer")
    text_cfg = {**tiny_clip.MODEL_CFG["text_cfg"], "context_length": CONTEXT, "vocab_size": vocab_size,
                "hf_tokenizer_name": "tokenizer"}  # a folder beside the config
    model_cfg = {**tiny_clip.MODEL_CFG, "text_cfg": text_cfg}
    config.write_text(json.dumps({"model_cfg": model_cfg, "preprocess_cfg": tiny_clip.PREPROCESS_CFG}, indent=2))
    from open_clip.tokenizer import HFTokenizer

    tokenizer = HFTokenizer(str(out / "tokenizer"), context_length=CONTEXT)
    tiny_clip.train(checkpoint, model_cfg, WORDS, TEMPLATES, tokenizer)
    tiny_clip.write_samples(out, WORDS)
    stamp.write_text(recipe_hash())
    print(f"trained in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return config, checkpoint


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.tiny_multilingual OUT_DIR", file=sys.stderr)
        return 2
    config, checkpoint = build(Path(argv[0]))
    print(f"CLIP_MODEL={config.resolve()}")
    print(f"CLIP_PRETRAINED={checkpoint.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
