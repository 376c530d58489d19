from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import open_clip
import pytest
import torch
from safetensors.torch import save_file

from classifier import ModelLoadError, load_model
from classifier.model.clip import build_model
from classifier.model.spec import resolve_spec
from tests.conftest import sample


def test_loading_a_tag_offline_explains_what_to_do() -> None:
    with pytest.raises(ModelLoadError) as caught:
        load_model("ViT-B-32-256", "datacomp_s34b_b86k")
    message = str(caught.value)
    assert "ViT-B-32-256 (datacomp_s34b_b86k)" in message
    assert "CLIP_PRETRAINED" in message and ".safetensors" in message


def test_unknown_model_and_tag_are_named() -> None:
    with pytest.raises(ModelLoadError, match="'ViT-Q-99' is neither a known open_clip model"):
        load_model("ViT-Q-99", "openai")
    with pytest.raises(ModelLoadError, match="'nonsense' is not a known tag for ViT-B-32"):
        load_model("ViT-B-32", "nonsense")
    with pytest.raises(ModelLoadError, match="not a file"):
        load_model("ViT-B-32", "/no/such/weights.pt")


def test_openai_weights_get_quick_gelu() -> None:
    assert resolve_spec("ViT-B-32", "openai").quick_gelu
    assert not resolve_spec("ViT-B-32-256", "datacomp_s34b_b86k").quick_gelu
    # The architecture only (the weights are not here): the flag must reach the built model.
    model = build_model(replace(resolve_spec("ViT-B-32", "openai"), pretrained=None))
    activation = model.transformer.resblocks[0].mlp.gelu  # type: ignore[union-attr,index]
    assert isinstance(activation, open_clip.transformer.QuickGELU)


def test_config_and_checkpoint_paths_load_in_eval_mode(tiny_model: tuple[Path, Path]) -> None:
    config, checkpoint = tiny_model
    clip = load_model(str(config), str(checkpoint))
    assert not clip.model.training
    assert all(not m.training for m in clip.model.modules())
    assert clip.image_size == 32


def test_checkpoint_from_path_keeps_the_models_preprocessing(tiny_model: tuple[Path, Path]) -> None:
    config, checkpoint = tiny_model
    clip = load_model(str(config), str(checkpoint))
    wanted = json.loads(config.read_text())["preprocess_cfg"]
    normalize = clip.preprocess.transforms[-1]  # type: ignore[attr-defined]
    assert list(normalize.mean) == wanted["mean"] and list(normalize.std) == wanted["std"]
    assert clip.preprocess.transforms[0].size == 32  # type: ignore[attr-defined]


def test_safetensors_checkpoint(tiny_model: tuple[Path, Path], tmp_path: Path) -> None:
    config, checkpoint = tiny_model
    state = torch.load(checkpoint, weights_only=True)
    save_file({k: v.contiguous() for k, v in state.items()}, tmp_path / "tiny.safetensors")
    clip = load_model(str(config), str(tmp_path / "tiny.safetensors"), precision="fp32")
    assert torch.equal(clip.model.logit_scale, state["logit_scale"])


def test_bf16_inputs_are_cast_to_the_models_dtype(tiny_model: tuple[Path, Path], samples_dir: Path) -> None:
    config, checkpoint = tiny_model
    full = load_model(str(config), str(checkpoint), precision="fp32")
    half = load_model(str(config), str(checkpoint), precision="bf16")
    assert half.dtype == torch.bfloat16
    from classifier import ImageLimits, decode_image

    batch = torch.stack([full.preprocess(decode_image(sample(samples_dir, "fox"), ImageLimits()))])
    assert batch.dtype == torch.float32
    a, b = full.encode_images(batch), half.encode_images(batch)
    assert b.dtype == torch.float32
    assert torch.nn.functional.cosine_similarity(a, b).item() > 0.98


def test_config_json_without_architecture_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"embed_dim": 8}')
    with pytest.raises(ModelLoadError, match="needs embed_dim, vision_cfg and text_cfg"):
        load_model(str(bad), "")


def test_trimmed_text_encoding_matches_open_clips(tiny_model: tuple[Path, Path]) -> None:
    config, checkpoint = tiny_model
    clip = load_model(str(config), str(checkpoint), precision="fp32")
    sentences = ["a cartoon fox.", "this is a painting of cartoon elephant with a very long name.", "a"]
    with torch.inference_mode():
        full = clip.model.encode_text(clip.tokenizer(sentences))  # type: ignore[operator]
    trimmed = clip.encode_texts(sentences)
    expected = torch.nn.functional.normalize(full.float(), dim=-1)
    assert (trimmed - expected).abs().max().item() < 1e-5


def test_bf16_gives_the_same_top1_as_fp32_on_the_samples(tiny_model: tuple[Path, Path], samples_dir: Path,
                                                         tmp_path: Path) -> None:
    from classifier import DEFAULT_LABELS, ClassifierSettings, ImageLimits, create_classifier, decode_image

    config, checkpoint = tiny_model
    images = [decode_image(p.read_bytes(), ImageLimits()) for p in sorted(samples_dir.glob("*/*.png"))
              if p.parent.name != "other"]  # an animal's picture: no close call between labels
    tops = []
    for precision in ("fp32", "bf16"):
        classifier = create_classifier(ClassifierSettings(model=str(config), pretrained=str(checkpoint),
                                                          precision=precision, cache_dir=tmp_path / precision))
        tops.append([p.label for p in classifier.classify_images(images, DEFAULT_LABELS)])
    assert tops[0] == tops[1]


def test_auto_precision(tmp_path: Path) -> None:
    from classifier.model.spec import cpu_has_native_bf16, resolve_precision

    with_amx, without = tmp_path / "amx", tmp_path / "old"
    with_amx.write_text("flags\t: fpu sse avx512f amx_bf16 amx_tile\n")
    without.write_text("flags\t: fpu sse avx2\n")
    assert cpu_has_native_bf16(with_amx) and not cpu_has_native_bf16(without)
    assert not cpu_has_native_bf16(tmp_path / "missing")
    assert resolve_precision("auto", "cpu", with_amx) == torch.bfloat16
    assert resolve_precision("auto", "cpu", without) == torch.float32
    assert resolve_precision("auto", "cpu", tmp_path / "missing") == torch.float32
    assert resolve_precision("auto", "cuda", without) == torch.float16
    assert resolve_precision("fp32", "cpu", with_amx) == torch.float32  # a choice is kept as it is
    assert resolve_precision("bf16", "cpu", without) == torch.bfloat16
    assert resolve_precision("fp16", "cuda") == torch.float16
