"""The lock files pin what pyproject.toml asks for, within its ranges and with hashes (docs/dependencies.md)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, requires
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
BOT_LOCK = ROOT / "requirements" / "bot.txt"
DEV_LOCK = ROOT / "requirements" / "dev.txt"
# scripts/setup installs these before the lock, in the build that TORCH_VARIANT picks.
PYTORCH = {"torch", "torchvision"}
# What PyTorch's CUDA build brings along; never in a lock, since the CPU build has none of it.
CUDA_BUILD = re.compile(r"^(nvidia-.*|cuda-.*|triton)$")
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)(?P<hashes>( --hash=sha256:[0-9a-f]{64})*)$")


@dataclass(frozen=True)
class Pin:
    version: str
    hashes: int


def read_lock(path: Path) -> dict[str, Pin]:
    """The pins of a pip-compile lock file by canonical name; anything else in it is an error."""
    pins: dict[str, Pin] = {}
    text = re.sub(r"\\\n\s*", " ", path.read_text(encoding="utf-8"))  # join continued lines
    for number, line in enumerate(text.splitlines(), 1):
        line = "" if line.lstrip().startswith("#") else line.split(" #", 1)[0].strip()
        if not line:
            continue
        match = PIN.match(re.sub(r"\s+", " ", line))
        assert match, f"{path.name}, logical line {number}: '{line[:80]}' is not 'name==version --hash=...'"
        name = canonicalize_name(match["name"])
        assert name not in pins, f"{path.name} pins {name} twice"
        pins[name] = Pin(match["version"], match["hashes"].count("--hash="))
    return pins


def declared(extra: str | None) -> list[Requirement]:
    """The requirements a lock must satisfy: the build backend, the dependencies and, if named, an extra."""
    lines = [*PYPROJECT["build-system"]["requires"], *PYPROJECT["project"]["dependencies"]]
    if extra:
        lines += PYPROJECT["project"]["optional-dependencies"][extra]
    wanted = [Requirement(line) for line in lines]
    return [r for r in wanted if r.marker is None or r.marker.evaluate({"extra": extra or ""})]


def through_extras(requirement: Requirement) -> list[Requirement]:
    """What the extras in `pkg[extra]` add, read from the installed package's metadata."""
    if not requirement.extras:
        return []
    try:
        listed = requires(requirement.name) or []
    except PackageNotFoundError:
        pytest.skip(f"{requirement.name} is not installed, so its extras cannot be read")
    added = []
    for line in listed:
        dependency = Requirement(line)
        if dependency.marker and any(dependency.marker.evaluate({"extra": e}) for e in requirement.extras):
            dependency.marker = None
            added.append(dependency)
    return added


def unmet(pins: dict[str, Pin], wanted: list[Requirement]) -> list[str]:
    """Each requirement the pins leave out or pin outside its range, in words."""
    problems = []
    for requirement in wanted:
        name = canonicalize_name(requirement.name)
        if name in PYTORCH:
            continue
        pin = pins.get(name)
        if pin is None:
            problems.append(f"{requirement} is not pinned")
        elif not requirement.specifier.contains(pin.version, prereleases=True):
            problems.append(f"{requirement} is pinned at {pin.version}")
        problems += unmet(pins, through_extras(requirement))
    return problems


@pytest.mark.parametrize(("lock", "extra"), [(BOT_LOCK, None), (DEV_LOCK, "dev")], ids=["bot", "dev"])
def test_the_lock_pins_every_requirement_within_its_range(lock: Path, extra: str | None) -> None:
    problems = unmet(read_lock(lock), declared(extra))
    assert not problems, f"{lock.name} no longer satisfies pyproject.toml (docs/dependencies.md): {problems}"


@pytest.mark.parametrize("lock", [BOT_LOCK, DEV_LOCK], ids=["bot", "dev"])
def test_every_pin_has_a_hash(lock: Path) -> None:
    unhashed = [name for name, pin in read_lock(lock).items() if pin.hashes == 0]
    assert not unhashed, f"{lock.name} pins {unhashed} without a hash"


@pytest.mark.parametrize("lock", [BOT_LOCK, DEV_LOCK], ids=["bot", "dev"])
def test_the_lock_leaves_pytorch_to_scripts_setup(lock: Path) -> None:
    left_out = {canonicalize_name(name) for name in PYPROJECT["tool"]["pip-tools"]["unsafe-package"]}
    pytorch = [name for name in read_lock(lock) if name in PYTORCH | left_out or CUDA_BUILD.match(name)]
    assert left_out >= PYTORCH
    assert not pytorch, f"{lock.name} pins {pytorch}: add them to [tool.pip-tools] unsafe-package and compile again"


def test_the_tests_run_the_versions_the_bot_runs() -> None:
    dev = read_lock(DEV_LOCK)
    differ = [f"{name} {pin.version} (dev: {dev[name].version if name in dev else 'none'})"
              for name, pin in read_lock(BOT_LOCK).items() if name not in dev or dev[name].version != pin.version]
    assert not differ, f"requirements/dev.txt disagrees with requirements/bot.txt: {differ}"
