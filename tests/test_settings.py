from __future__ import annotations

from pathlib import Path

import pytest

from classifier import DEFAULT_LABELS, DEFAULT_TEMPLATES, ClassifierSettings, SettingsError
from classifier.settings import read_environment


def test_defaults() -> None:
    settings = ClassifierSettings.from_env({})
    assert (settings.model, settings.pretrained) == ("ViT-B-32-256", "datacomp_s34b_b86k")
    assert settings.device == "cpu"  # no GPU here
    assert settings.default_labels == DEFAULT_LABELS
    assert "this is a painting of cartoon {}." in settings.templates == DEFAULT_TEMPLATES
    assert settings.max_image_bytes == 20 * 2**20 and settings.max_image_pixels == 50_000_000
    assert settings.image_cache_entries == 50_000  # 512 float32 each: about 100 MB
    assert settings.max_decode_bytes == 300 * 2**20


def test_values_are_read_and_cast() -> None:
    settings = ClassifierSettings.from_env({
        "CLIP_MODEL": "ViT-B-32", "CLIP_PRETRAINED": "openai", "CLIP_PRECISION": "BF16",
        "CLIP_TEMPLATES": "a {} | a drawing of {}", "DEFAULT_LABELS": "owl, bat",
        "BATCH_MAX_SIZE": "8", "BATCH_MAX_WAIT_MS": "2.5", "MAX_IMAGE_MB": "5", "CACHE_DIR": "/tmp/x",
        "IMAGE_CACHE_ENTRIES": "300", "DECODE_MEMORY_MB": "150",
    })
    assert settings.max_decode_bytes == 150 * 2**20
    assert settings.image_cache_entries == 300
    assert settings.precision == "bf16"
    assert settings.templates == ("a {}", "a drawing of {}")
    assert settings.default_labels == ("owl", "bat")
    assert (settings.batch_max_size, settings.batch_max_wait_ms) == (8, 2.5)
    assert settings.max_image_bytes == 5 * 2**20
    assert settings.cache_dir == Path("/tmp/x")


@pytest.mark.parametrize(("env", "message"), [
    ({"BATCH_MAX_SIZE": "lots"}, "BATCH_MAX_SIZE must be a whole number, not 'lots'"),
    ({"QUEUE_SIZE": "0"}, "QUEUE_SIZE must be at least 1"),
    ({"DECODE_MEMORY_MB": "0.5"}, "DECODE_MEMORY_MB must be at least 1"),
    ({"IMAGE_CACHE_ENTRIES": "0"}, "IMAGE_CACHE_ENTRIES must be at least 1"),
    ({"CLIP_PRECISION": "fp8"}, "CLIP_PRECISION must be one of"),
    ({"CLIP_TEMPLATES": "no placeholder"}, "exactly one"),
    ({"DEFAULT_LABELS": "cat"}, "DEFAULT_LABELS: Give at least 2"),
])
def test_bad_values_name_the_setting(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        ClassifierSettings.from_env(env)


def test_environment_wins_over_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("CLIP_MODEL=from-file\nQUEUE_SIZE=7\n")
    monkeypatch.setenv("CLIP_MODEL", "from-env")
    env = read_environment(dotenv)
    assert env["CLIP_MODEL"] == "from-env" and env["QUEUE_SIZE"] == "7"


def test_decode_threads_follow_the_device_and_the_cores() -> None:
    from classifier.settings import default_decode_threads

    assert [default_decode_threads("cpu", n) for n in (1, 2, 4, 16)] == [1, 1, 1, 4]
    assert [default_decode_threads("cuda", n) for n in (1, 2, 16, 64)] == [1, 1, 8, 8]
    assert ClassifierSettings.from_env({"DECODE_THREADS": "3"}).decode_threads == 3
    assert ClassifierSettings(device="cpu").decode_threads == default_decode_threads("cpu")


def test_batch_and_queue_sizes_follow_the_device() -> None:
    cpu, gpu = ClassifierSettings(device="cpu"), ClassifierSettings(device="cuda")
    assert (cpu.batch_max_size, cpu.queue_size, gpu.batch_max_size, gpu.queue_size) == (32, 256, 128, 512)
    chosen = ClassifierSettings.from_env({"BATCH_MAX_SIZE": "8", "QUEUE_SIZE": "10"})
    assert (chosen.batch_max_size, chosen.queue_size) == (8, 10)
    assert ClassifierSettings.from_env({"DECODE_ON_DEVICE": "ON"}).decode_on_device == "on"
    with pytest.raises(SettingsError, match="DECODE_ON_DEVICE must be one of auto, on, off"):
        ClassifierSettings.from_env({"DECODE_ON_DEVICE": "gpu"})
