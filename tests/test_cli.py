from __future__ import annotations

import json
import os
import re
import signal
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
    animals = [d for d in samples_dir.iterdir() if d.name != "other"]  # other/: the open-set figures
    assert report["total"] == sum(len(list(d.iterdir())) for d in animals)
    assert report["accuracy"] >= 0.9
    assert set(report["per_label"]) == {d.name for d in animals}
    assert report["open_set"]["other_total"] == len(list((samples_dir / "other").iterdir()))
    assert report["confusions"] == [] or all(len(pair) == 3 for pair in report["confusions"])


def test_confusions_name_the_true_and_the_predicted_label(cli_env: dict[str, str], samples_dir: Path,
                                                          tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Folders whose names lie: cat pictures filed under "dog" (3) and dog pictures under "cat" (2).
    for folder, animal, count in (("dog", "cat", 3), ("cat", "dog", 2)):
        (tmp_path / folder).mkdir()
        for i in range(count):
            (tmp_path / folder / f"{i}.png").write_bytes((samples_dir / animal / f"{i:02d}.png").read_bytes())
    assert main(["eval", str(tmp_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["total"] == 5 and report["accuracy"] == 0
    assert sorted(map(tuple, report["confusions"])) == [("cat", "dog", 2), ("dog", "cat", 3)]
    assert main(["eval", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "  dog -> cat: 3\n  cat -> dog: 2" in out  # most first


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
    assert re.search(r"\r\[######\] 3/3 \d+/s\n$", shown.getvalue())
    hidden = io.StringIO()  # not a terminal: nothing is drawn
    quiet = Progress(3, stream=hidden)
    quiet.advance()
    assert hidden.getvalue() == ""


def test_predict_walks_folders_and_reads_paths_from_stdin(cli_env: dict[str, str], samples_dir: Path,
                                                         tmp_path: Path) -> None:
    tree = tmp_path / "pictures"
    (tree / "deep" / "deeper").mkdir(parents=True)
    (tree / ".hidden").mkdir()
    (tree / "deep" / "deeper" / "fox-without-extension").write_bytes((samples_dir / "fox" / "00.png").read_bytes())
    (tree / "cat.png").write_bytes((samples_dir / "cat" / "00.png").read_bytes())
    (tree / ".hidden" / "dog.png").write_bytes((samples_dir / "dog" / "00.png").read_bytes())
    (tree / ".dotfile.png").write_bytes((samples_dir / "dog" / "00.png").read_bytes())
    (tree / "notes.txt").write_text("a text file in the folder is not a picture and is skipped")
    done = subprocess.run([sys.executable, "-m", "classifier", "predict", str(tree), "--json"], cwd=ROOT,
                          env={**os.environ, **cli_env}, capture_output=True, text=True, timeout=120)
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(Path(line["path"]).name, line["label"]) for line in lines] == [("cat.png", "cat"),
                                                                         ("fox-without-extension", "fox")]
    assert done.returncode == 0, done.stderr
    listed = f"{samples_dir / 'pig' / '00.png'}\n{tmp_path / 'missing.png'}\n"
    piped = subprocess.run([sys.executable, "-m", "classifier", "predict", "-"], cwd=ROOT, input=listed,
                           env={**os.environ, **cli_env}, capture_output=True, text=True, timeout=120)
    assert piped.returncode == 1
    assert piped.stdout.splitlines()[0].startswith(f"{samples_dir / 'pig' / '00.png'}: pig ")
    assert piped.stdout.splitlines()[1] == f"{tmp_path / 'missing.png'}: error: No such file."


def test_predict_streams_in_order_and_stops_cleanly_on_ctrl_c(cli_env: dict[str, str], samples_dir: Path,
                                                               tmp_path: Path) -> None:
    many = "".join(f"{samples_dir / label / f'{i:02d}.png'}\n" for _ in range(400) for label in ("cat", "dog")
                   for i in range(3))
    listing = tmp_path / "paths.txt"
    listing.write_text(many)
    # As from a terminal: a shell starts background jobs with SIGINT ignored, and a child would inherit that.
    with listing.open() as stdin, subprocess.Popen(
        [sys.executable, "-m", "classifier", "predict", "-", "--json"], cwd=ROOT, env={**os.environ, **cli_env},
        stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    ) as child:
        assert child.stdout is not None and child.stderr is not None
        first = [json.loads(child.stdout.readline()) for _ in range(10)]  # printed while the rest is to do
        child.send_signal(signal.SIGINT)
        # Read on through the same buffered stream: communicate() would read the pipe beneath it and
        # lose what readline() had buffered already.
        rest, err = child.stdout.read(), child.stderr.read()
        child.wait(timeout=120)
    assert child.returncode == 130, err
    assert "Traceback" not in err
    printed = first + [json.loads(line) for line in rest.splitlines()]
    expected = many.splitlines()
    assert 10 <= len(printed) < len(expected)
    assert [line["path"] for line in printed] == expected[:len(printed)]  # in input order, nothing skipped
    assert all(Path(line["path"]).parent.name == line["label"] for line in printed)
