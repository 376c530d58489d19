"""Where the image encoder saw what: one embedding per patch, read through CLIP's value path.

MaskCLIP (Zhou, Loy and Dai, "Extract Free Dense Labels from CLIP", ECCV 2022): the patch tokens
leaving the last block are mixed by attention into the class token and carry little of their own
place. Taking the last block's value projection of each patch instead (skipping the query-key
attention, the residual and the MLP), then the output projection, ln_post and proj, gives each patch
an embedding in the space of the text embeddings: its similarity to a label says how much that
patch looks like it. Forward only, one pass through the encoder: about the cost of encoding the
picture once.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class MapUnsupported(RuntimeError):
    """The model's image encoder is not a ViT whose patch tokens can be read (a ResNet, a timm tower,
    an attention-pooled or SigLIP-style head)."""


def _vision_transformer(model: nn.Module) -> Any:  # open_clip's VisionTransformer, read by duck typing
    visual = getattr(model, "visual", None)
    blocks = getattr(getattr(visual, "transformer", None), "resblocks", None)
    last = blocks[-1] if isinstance(blocks, nn.ModuleList) and len(blocks) else None
    if (visual is None or last is None or not isinstance(getattr(last, "attn", None), nn.MultiheadAttention)
            or getattr(visual, "attn_pool", None) is not None or getattr(visual, "final_ln_after_pool", False)
            or not hasattr(visual, "_embeds") or getattr(visual, "grid_size", None) is None):
        raise MapUnsupported(f"{type(visual).__name__} has no patch tokens this map can read.")
    return visual


def supports_maps(model: nn.Module) -> bool:
    """Whether patch_embeddings can read this model."""
    try:
        _vision_transformer(model)
    except MapUnsupported:
        return False
    return True


@torch.inference_mode()
def patch_embeddings(model: nn.Module, pixels: torch.Tensor) -> torch.Tensor:
    """Normalised float32 embeddings of every patch, (N, rows, columns, D), for preprocessed pictures
    (N, 3, S, S) already in the model's dtype and on its device; raises MapUnsupported."""
    visual = _vision_transformer(model)
    blocks = visual.transformer.resblocks
    x = visual._embeds(pixels)
    for block in blocks[:-1]:
        x = block(x)
    last = blocks[-1]
    attention: nn.MultiheadAttention = last.attn
    width = x.shape[-1]
    weight, bias = attention.in_proj_weight[2 * width:], attention.in_proj_bias
    values = nn.functional.linear(last.ln_1(x), weight, None if bias is None else bias[2 * width:])
    x = last.ls_1(attention.out_proj(values))
    x = visual.ln_post(x[:, 1:])  # the class token is not a place
    if visual.proj is not None:
        x = x @ visual.proj
    rows, columns = visual.grid_size
    return nn.functional.normalize(x.float(), dim=-1).reshape(x.shape[0], rows, columns, -1).cpu()
