"""The docs stay true to the tree: links resolve, every setting the code reads has a row, the README is a front door."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SETTINGS_PAGE = ROOT / "docs" / "settings.md"
SETTINGS_MODULES = (ROOT / "bot" / "settings.py", ROOT / "classifier" / "settings.py")
SETUP_SCRIPT = ROOT / "scripts" / "setup"
ENV_EXAMPLE = ROOT / ".env.example"
README_MAX_LINES = 260

# The env reader's methods (classifier/settings.py, EnvReader): each takes the variable's name first.
READER_METHODS = {"text", "number", "choice", "parsed"}
SETTING_NAME = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```[^\n]*\n.*?^```", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]*`")


def doc_pages() -> list[Path]:
    return [README, *sorted((ROOT / "docs").glob("*.md"))]


def prose(markdown: str) -> str:
    """The text outside code blocks and inline code, where links live."""
    return INLINE_CODE.sub("", FENCE.sub("", markdown))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, markup and punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    found: set[str] = set()
    for line in FENCE.sub("", markdown).splitlines():
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            base = slug(match.group(1))
            name, n = base, 1
            while name in found:  # GitHub numbers repeated headings: name, name-1, name-2
                name, n = f"{base}-{n}", n + 1
            found.add(name)
    return found


def broken_links(page: Path) -> list[str]:
    shown = page.relative_to(ROOT) if page.is_relative_to(ROOT) else page
    broken = []
    for target in LINK.findall(prose(page.read_text())):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http(s), mailto: not ours to check
            continue
        path_part, _, anchor = target.partition("#")
        file = (page.parent / path_part).resolve() if path_part else page
        if not file.exists():
            broken.append(f"{shown}: {target} (no such file)")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file.read_text()):
            broken.append(f"{shown}: {target} (no heading #{anchor} in {file.name})")
    return broken


def settings_read_by_code() -> set[str]:
    """Names passed to the env reader (get.text("NAME", ...), EnvReader(env).choice("NAME", ...)), or to
    a helper that reads one for it (_port(get, "METRICS_PORT")), plus TORCH_VARIANT from scripts/setup."""
    names: set[str] = set()
    for module in SETTINGS_MODULES:
        for node in ast.walk(ast.parse(module.read_text())):
            if not isinstance(node, ast.Call):
                continue
            constants = [arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
            if isinstance(node.func, ast.Attribute) and node.func.attr in READER_METHODS:
                first = node.args[0] if node.args else None
                candidates = [first.value] if isinstance(first, ast.Constant) else []
            elif isinstance(node.func, ast.Name):
                candidates = constants
            else:
                continue
            names.update(c for c in candidates if isinstance(c, str) and SETTING_NAME.match(c))
    names.update(re.findall(r"\$\{?(TORCH_VARIANT)\b", SETUP_SCRIPT.read_text()))
    return names


def settings_documented() -> set[str]:
    """Settings named in a table row of docs/settings.md, in backticks in its first column."""
    rows = [line for line in SETTINGS_PAGE.read_text().splitlines() if line.startswith("|")]
    first_columns = [row.split("|")[1] for row in rows if len(row.split("|")) > 2]
    return {name for column in first_columns for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", column)}


def settings_in_env_example() -> set[str]:
    return set(re.findall(r"^\s*#?\s*([A-Z][A-Z0-9_]+)=", ENV_EXAMPLE.read_text(), re.M))


def test_every_code_block_is_closed() -> None:
    for page in doc_pages():
        fences = [line for line in page.read_text().splitlines() if line.lstrip().startswith("```")]
        assert len(fences) % 2 == 0, f"{page.relative_to(ROOT)} has a code block that is never closed"


def test_every_relative_link_resolves() -> None:
    broken = [problem for page in doc_pages() for problem in broken_links(page)]
    assert not broken, "\n".join(broken)


def test_the_link_check_sees_a_missing_file_and_a_missing_heading(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other\n\n## A heading, with `code` & more\n")
    page = tmp_path / "page.md"
    page.write_text("[ok](other.md#a-heading-with-code--more) [gone](missing.md) [bad](other.md#nope)\n"
                    "`[not a link](missing.md)` [web](https://example.org/x)\n")
    problems = broken_links(page)
    assert len(problems) == 2 and "missing.md" in problems[0] and "#nope" in problems[1]


def test_every_setting_the_code_reads_has_a_row_in_docs_settings() -> None:
    read = settings_read_by_code()
    # The parse must find settings read each way: by the reader, through a helper, by scripts/setup.
    assert {"TELEGRAM_BOT_TOKEN", "METRICS_PORT", "CLIP_PRECISION", "TORCH_VARIANT"} <= read
    missing = sorted(read - settings_documented())
    assert not missing, f"docs/settings.md has no row for {', '.join(missing)}"


def test_every_setting_in_env_example_has_a_row_in_docs_settings() -> None:
    listed = settings_in_env_example()
    assert "TELEGRAM_BOT_TOKEN" in listed
    missing = sorted(listed - settings_documented())
    assert not missing, f"docs/settings.md has no row for {', '.join(missing)} (in .env.example)"


def test_the_readme_is_a_front_door_that_starts_with_the_two_commands() -> None:
    text = README.read_text()
    lines = text.splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md is {len(lines)} lines; a front door has {README_MAX_LINES}"
    blocks = [block.split("\n", 1)[1].rsplit("```", 1)[0].strip() for block in FENCE.findall(text)]
    assert blocks[0].startswith("scripts/run"), blocks[0]
    assert blocks[1].startswith("scripts/test"), blocks[1]
    before_first_block = text[: text.index("```")]
    assert [line for line in before_first_block.splitlines() if line.strip()] == ["# toonclip"]


def test_every_docs_page_says_who_it_is_for_and_the_readme_links_it() -> None:
    readme = README.read_text()
    for page in sorted((ROOT / "docs").glob("*.md")):
        lines = [line for line in page.read_text().splitlines() if line.strip()]
        assert lines[0].startswith("# "), f"{page.name} starts with its title"
        assert lines[1].startswith("For "), f"{page.name}: the line after the title says who it is for"
        assert f"(docs/{page.name}" in readme, f"README.md does not link docs/{page.name}"
