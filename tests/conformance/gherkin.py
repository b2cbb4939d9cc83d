"""A small, strict reader of the Gherkin subset the conformance kit uses.

Supported: ``Feature:`` with free description lines, ``Scenario:`` blocks, steps starting
with Given, When, Then, And or But, doc strings between ``\"\"\"`` lines (with an optional
content type such as ``\"\"\"yaml``), ``#`` comments and blank lines. Anything else
(``Background``, ``Scenario Outline``, ``Examples``, tags, data tables, a second
``Feature``) is an error naming the file and line, so a new kit version that uses more of
Gherkin cannot be read half-way and pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

STEP_KEYWORDS = ("Given", "When", "Then", "And", "But")
_DOCSTRING = '"""'
_UNSUPPORTED = ("Background:", "Scenario Outline:", "Scenario Template:", "Examples:", "Rule:")


class GherkinError(ValueError):
    """The feature text uses something this reader does not support, or is malformed."""


@dataclass(frozen=True)
class Step:
    keyword: str
    text: str
    line: int
    docstring: str | None = None


@dataclass
class Scenario:
    name: str
    line: int
    steps: list[Step] = field(default_factory=list)


@dataclass
class Feature:
    name: str
    path: Path
    scenarios: list[Scenario] = field(default_factory=list)


def parse_feature(text: str, path: Path) -> Feature:
    """Parse one feature file; raise GherkinError at the first unsupported construct."""
    lines = text.splitlines()
    feature: Feature | None = None
    scenario: Scenario | None = None
    index = 0

    def fail(message: str, line: int) -> GherkinError:
        return GherkinError(f"{path}:{line}: {message}")

    while index < len(lines):
        number = index + 1
        stripped = lines[index].strip()
        index += 1
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith(("@", "|")) or stripped.startswith(_UNSUPPORTED):
            raise fail(f"unsupported Gherkin construct: {stripped!r}", number)
        if stripped.startswith("Feature:"):
            if feature is not None:
                raise fail("a second 'Feature:' in one file", number)
            feature = Feature(name=stripped.removeprefix("Feature:").strip(), path=path)
            continue
        if feature is None:
            raise fail(f"expected 'Feature:' first, got {stripped!r}", number)
        if stripped.startswith("Scenario:"):
            scenario = Scenario(name=stripped.removeprefix("Scenario:").strip(), line=number)
            if not scenario.name:
                raise fail("a scenario needs a name", number)
            feature.scenarios.append(scenario)
            continue
        keyword = stripped.split(" ", 1)[0]
        if keyword not in STEP_KEYWORDS:
            if scenario is None:
                continue  # the feature's free-text description ("As an implementer ...")
            raise fail(f"expected a step (Given/When/Then/And/But), got {stripped!r}", number)
        if scenario is None:
            raise fail("a step outside of any scenario", number)
        docstring = None
        if index < len(lines) and lines[index].strip().startswith(_DOCSTRING):
            docstring, index = _read_docstring(lines, index, path)
        text_after = stripped[len(keyword) :].strip()
        scenario.steps.append(Step(keyword, text_after, number, docstring))
    if feature is None:
        raise GherkinError(f"{path}: no 'Feature:' found")
    if not feature.scenarios:
        raise GherkinError(f"{path}: the feature has no scenarios")
    for each in feature.scenarios:
        if not each.steps:
            raise GherkinError(f"{path}:{each.line}: scenario {each.name!r} has no steps")
    return feature


def _read_docstring(lines: list[str], start: int, path: Path) -> tuple[str, int]:
    """The doc string opening at ``lines[start]``: its text and the index after it.

    Each content line loses as much leading whitespace as the opening delimiter has (the
    Gherkin rule), so YAML inside keeps its own indentation.
    """
    opening = lines[start]
    indent = len(opening) - len(opening.lstrip())
    content_type = opening.strip().removeprefix(_DOCSTRING).strip()
    if content_type not in ("", "yaml", "json"):
        raise GherkinError(f"{path}:{start + 1}: unsupported doc string type {content_type!r}")
    body: list[str] = []
    for index in range(start + 1, len(lines)):
        line = lines[index]
        if line.strip() == _DOCSTRING:
            return "\n".join(body) + "\n", index + 1
        lead = len(line) - len(line.lstrip())
        body.append(line[min(lead, indent) :])
    raise GherkinError(f"{path}:{start + 1}: a doc string is never closed")


def read_features(folder: Path) -> list[Feature]:
    """Every ``*.feature`` file in ``folder``, sorted by file name."""
    paths = sorted(folder.glob("*.feature"))
    if not paths:
        raise GherkinError(f"no .feature files in {folder}")
    return [parse_feature(p.read_text(encoding="utf-8"), p) for p in paths]
