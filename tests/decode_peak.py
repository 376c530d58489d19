"""What decoding pictures raises a fresh process's peak memory by: `python -m tests.decode_peak FILE...
[--threads N] [--target S]` decodes every file (through N threads sharing one decode budget) and
resizes it for a model of S pixels, then prints one JSON line: growth_mb (the peak resident memory,
VmHWM, over the resident memory just before, after the kernel's peak was reset), and each file's
size or refusal.

classifier/__init__.py imports torch; this imports classifier.pictures without it, so the baseline
is a small process and nothing torch does in the background counts.
"""

from __future__ import annotations

import argparse
import inspect
import io
import json
import sys
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _without_torch() -> None:
    """Make `classifier` an empty package, so its sub-packages import without classifier/__init__.py."""
    package = types.ModuleType("classifier")
    package.__path__ = [str(ROOT / "classifier")]
    sys.modules["classifier"] = package


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} is not in /proc/self/status")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--target", type=int, default=256)
    parser.add_argument("--budget-mb", type=float, default=0, help="the decode budget (0: the default)")
    args = parser.parse_args(argv)
    _without_torch()
    from PIL import Image

    from classifier.pictures import images
    from classifier.pictures.crop import trim_extreme_aspect
    from classifier.pictures.refusals import ImageError, ImageLimits

    limits = ImageLimits()
    options: dict[str, object] = {}
    if "budget" in inspect.signature(images.decode_image).parameters:  # the code before had none
        from classifier.pictures.budget import DecodeBudget

        if args.budget_mb:
            limits = ImageLimits(max_decode_bytes=int(args.budget_mb * 2**20))
        options["budget"] = DecodeBudget(limits.max_decode_bytes)

    def reserved(data: bytes) -> int:
        """What decode_image reserves for data (0 for the code before, or a refused picture)."""
        if "budget" not in options:
            return 0
        from classifier.pictures.footprint import plan_shrink, worst_case_bytes

        try:
            image = Image.open(io.BytesIO(data))
        except Exception:
            return 0
        full_size = image.size
        if image.format == "JPEG" and min(full_size) >= 2 * args.target:
            image.draft("RGB", (args.target, args.target))
        return worst_case_bytes(image, data, full_size, plan_shrink(image.size, args.target))

    def decode(data: bytes) -> str:
        try:
            picture = images.decode_image(data, limits, args.target, **options)  # type: ignore[arg-type]
        except ImageError as exc:
            return f"refused: {exc}"
        scale = args.target / min(picture.size)
        picture = trim_extreme_aspect(picture)
        small = picture.resize((max(1, round(picture.width * scale)), max(1, round(picture.height * scale))),
                               Image.Resampling.BICUBIC)
        return f"{picture.width}x{picture.height} -> {small.width}x{small.height}"

    decode(_tiny_png())  # plugins and numpy warmed up before the baseline
    datas = [path.read_bytes() for path in args.files]
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current resident memory
    baseline = _status_kb("VmRSS")
    with ThreadPoolExecutor(args.threads) as pool:
        results = list(pool.map(decode, datas))
    peak = _status_kb("VmHWM")
    print(json.dumps({"growth_mb": round((peak - baseline) / 1024, 1), "baseline_mb": round(baseline / 1024, 1),
                      "reserved_mb": [round(reserved(data) / 2**20, 1) for data in datas], "results": results}))


def _tiny_png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGBA", (600, 600), (1, 2, 3, 4)).save(buffer, "PNG")
    return buffer.getvalue()


if __name__ == "__main__":
    main(sys.argv[1:])
