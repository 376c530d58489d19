"""The benchmark's output format on the tiny model (its timings are not asserted)."""

from __future__ import annotations

import json

import pytest

from classifier import ClassifierSettings
from classifier.cli import main

KEYS = {
    "raw_img_per_s", "worker_img_per_s", "worker_vs_raw", "single_p50_ms", "single_p99_ms",
    "single_overhead_ms", "text_encode_ms", "text_cached_ms", "decode_full_ms", "decode_draft_ms",
    "decode_speedup", "bot_e2e_p50_ms", "bot_overhead_ms", "model_single_ms", "loop_lag_p99_ms",
    "label_change_stall_ms",
}
OVERHEADS = ("single_overhead", "bot_overhead", "label_change_stall")


def test_bench_json_is_one_object_with_every_key(settings: ClassifierSettings, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    for key, value in {"CLIP_MODEL": settings.model, "CLIP_PRETRAINED": settings.pretrained,
                       "CACHE_DIR": str(settings.cache_dir), "CLIP_DEVICE": "cpu"}.items():
        monkeypatch.setenv(key, value)
    assert main(["bench", "--json", "--seconds", "0.3"]) == 0
    out = capsys.readouterr().out
    assert len(out.strip().splitlines()) == 1
    report = json.loads(out)
    assert report.keys() >= KEYS
    for key in KEYS:
        assert isinstance(report[key], float | int) and report[key] >= 0, key
        assert report[key] > 0 or key.endswith(("overhead_ms", "stall_ms")) or key == "loop_lag_p99_ms", key
    for name in OVERHEADS:  # a median of paired differences, with its spread around it
        assert report[f"{name}_p10_ms"] <= report[f"{name}_p90_ms"], name
    assert report["worker_vs_raw"] == pytest.approx(report["worker_img_per_s"] / report["raw_img_per_s"], rel=0.01)
    assert report["device"] == "cpu" and report["model"] == settings.model
