"""The benchmarks' output format on the tiny model (their timings are not asserted)."""

from __future__ import annotations

import json

import pytest

from bot.__main__ import main as bot_main
from classifier import ClassifierSettings
from classifier.cli import main as classifier_main

CLASSIFIER_KEYS = {
    "raw_img_per_s", "worker_img_per_s", "worker_vs_raw", "single_p50_ms", "single_p99_ms",
    "single_overhead_ms", "text_encode_ms", "text_cached_ms", "decode_full_ms", "decode_draft_ms",
    "decode_speedup", "model_single_ms", "label_change_stall_ms", "explain_ms", "explain_e2e_ms",
    "explain_batch_share", "open_set_ms", "open_set_negatives", "negatives_encode_ms",
}
BOT_KEYS = {"bot_e2e_p50_ms", "bot_overhead_ms", "loop_lag_p99_ms", "rss_idle_mb", "rss_peak_mb", "repeat_hit_ms",
            "sticker_pictures_per_s", "sticker_hit_ratio", "sticker_vs_worker"}


def bench_report(main: object, settings: ClassifierSettings, monkeypatch: pytest.MonkeyPatch,
                 capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    for key, value in {"CLIP_MODEL": settings.model, "CLIP_PRETRAINED": settings.pretrained,
                       "CACHE_DIR": str(settings.cache_dir), "CLIP_DEVICE": "cpu"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)  # the bench needs none
    assert main(["bench", "--json", "--seconds", "0.3"]) == 0  # type: ignore[operator]
    out = capsys.readouterr().out
    assert len(out.strip().splitlines()) == 1
    report: dict[str, object] = json.loads(out)
    assert report["device"] == "cpu" and report["model"] == settings.model
    return report


def check_keys(report: dict[str, object], keys: set[str], overheads: tuple[str, ...]) -> None:
    assert report.keys() >= keys
    for key in keys:
        value = report[key]
        assert isinstance(value, float | int) and value >= 0, key
        assert value > 0 or key.endswith(("overhead_ms", "stall_ms")) or key in ("loop_lag_p99_ms", "open_set_ms"), key
    for name in overheads:  # a median of paired differences, with its spread around it
        assert report[f"{name}_p10_ms"] <= report[f"{name}_p90_ms"], name  # type: ignore[operator]


def test_classifier_bench_has_the_classifier_keys_and_none_of_the_bots(
        settings: ClassifierSettings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    report = bench_report(classifier_main, settings, monkeypatch, capsys)
    check_keys(report, CLASSIFIER_KEYS, ("single_overhead", "label_change_stall"))
    assert not report.keys() & BOT_KEYS
    assert report["worker_vs_raw"] == pytest.approx(report["worker_img_per_s"] / report["raw_img_per_s"],  # type: ignore[operator]
                                                    rel=0.01)


def test_bot_bench_has_every_key(settings: ClassifierSettings, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    report = bench_report(bot_main, settings, monkeypatch, capsys)
    check_keys(report, CLASSIFIER_KEYS | BOT_KEYS, ("single_overhead", "bot_overhead", "label_change_stall"))
    # --seconds 0.3 scales the sticker traffic to a tenth: 1,000 requests from 200 pictures, each
    # distinct picture downloaded once (the first caller's download serves the callers waiting with it)
    assert report["sticker_requests"] == 1000
    assert report["sticker_downloads"] == report["sticker_distinct"] < 200
    assert report["sticker_hit_ratio"] == pytest.approx(1 - report["sticker_distinct"] / 1000)  # type: ignore[operator]
