from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from classifier import ClassifierSettings
from classifier.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def cli_env(settings: ClassifierSettings, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {"CLIP_MODEL": settings.model, "CLIP_PRETRAINED": settings.pretrained,
           "CACHE_DIR": str(settings.cache_dir), "CLIP_DEVICE": "cpu"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def test_predict_json_one_line_per_input(cli_env: dict[str, str], samples_dir: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a picture")
    paths = [samples_dir / "cat" / "00.png", bad, samples_dir / "fox" / "00.png"]
    code = main(["predict", *map(str, paths), "--json", "--top-k", "2"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 1
    assert [line["path"] for line in lines] == [str(p) for p in paths]
    assert lines[0]["label"] == "cat" and len(lines[0]["top"]) == 2
    assert lines[0]["top"][0] == ["cat", lines[0]["probability"]]
    assert "not a picture" in lines[1]["error"]
    assert lines[2]["label"] == "fox"


def test_predict_exit_codes(cli_env: dict[str, str], samples_dir: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["predict", str(samples_dir / "pig" / "01.png"), "--labels", "pig, duck"]) == 0
    assert capsys.readouterr().out.startswith(f"{samples_dir / 'pig' / '01.png'}: pig ")
    assert main(["predict", str(samples_dir / "pig" / "01.png"), "--labels", "pig"]) == 2
    assert "at least 2" in capsys.readouterr().err


def test_eval_reports_accuracy_per_label_and_confusions(cli_env: dict[str, str], samples_dir: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(samples_dir), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["total"] == sum(len(list(d.iterdir())) for d in samples_dir.iterdir())
    assert report["accuracy"] >= 0.9
    assert set(report["per_label"]) == {d.name for d in samples_dir.iterdir()}
    assert all(len(pair) == 3 for pair in report["confusions"])


def test_eval_with_a_restricted_label_set_confuses(cli_env: dict[str, str], samples_dir: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    for label in ("cat", "dog"):
        (tmp_path / label).mkdir()
        for i in range(3):
            (tmp_path / label / f"{i}.png").write_bytes((samples_dir / label / f"{i:02d}.png").read_bytes())
    # "dog" pictures against a set where only "cat" and "fox" exist beside it as folders: all fine;
    # then as a set missing "dog": the folder is refused as a usage error.
    assert main(["eval", str(tmp_path), "--labels", "cat, fox"]) == 2
    assert "dog are not among the labels" in capsys.readouterr().err
    assert main(["eval", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("accuracy ") and "  cat: " in out and "  dog: " in out


def test_the_module_runs_as_a_program(cli_env: dict[str, str], samples_dir: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "classifier", "predict", str(samples_dir / "lion" / "02.png")],
                          cwd=ROOT, env={**os.environ, **cli_env}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert ": lion " in done.stdout


def test_progress_bar_draws_on_a_terminal_only() -> None:
    import io

    from classifier.progress import Progress

    shown = io.StringIO()
    bar = Progress(3, stream=shown, width=6, enabled=True)
    for _ in range(3):
        bar.advance()
    assert shown.getvalue().endswith("\r[######] 3/3\n")
    hidden = io.StringIO()  # not a terminal: nothing is drawn
    quiet = Progress(3, stream=hidden)
    quiet.advance()
    assert hidden.getvalue() == ""
