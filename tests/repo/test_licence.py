"""The licences are stated where readers, packagers and citation tools look for them."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _text(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


def test_licence_files_hold_the_two_licences():
    mit = _text("LICENSE")
    assert mit.startswith("MIT License\n") and "Permission is hereby granted, free of charge" in mit
    cc = _text("LICENSE-CC-BY-4.0.txt")
    assert cc.startswith("Creative Commons Attribution 4.0 International")
    assert "Section 3 – License Conditions." in cc and "Attribution." in cc


def test_package_metadata_names_the_code_licence():
    project = tomllib.loads(_text("pyproject.toml"))["project"]
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    assert not any(c.startswith("License ::") for c in project.get("classifiers", []))  # PEP 639: not both


def test_readme_states_both_licences_and_points_to_the_files():
    readme = _text("README.md")
    section = readme[readme.index("## Licence and citation") :]
    section = section[: section.index("\n## ", 1)]
    assert "(LICENSE-CC-BY-4.0.txt)" in section and "(LICENSE)" in section
    assert "CC BY 4.0" in section and "MIT" in section
    assert "(CITATION.cff)" in section
    assert "(CONTRIBUTING.md)" in readme


def test_citation_file_matches_the_repository():
    cff = yaml.safe_load(_text("CITATION.cff"))
    project = tomllib.loads(_text("pyproject.toml"))["project"]
    assert cff["cff-version"] == "1.2.0"
    assert cff["repository-code"] == project["urls"]["Repository"]
    assert set(cff["license"]) == {"MIT", "CC-BY-4.0"}
    version = re.search(r'__version__ = "([^"]+)"', _text("cnnlib/__init__.py")).group(1)
    assert cff["version"] == version
    assert cff["authors"] and cff["title"]


def test_contributing_covers_running_testing_reexecuting_and_linting():
    text = _text("CONTRIBUTING.md")
    for command in ("make lab", "make test", "tools/run_notebooks.py", "make sync", "make lint"):
        assert command in text, command
    assert "## The book's conventions" in text


def test_website_footer_states_the_licences():
    config = yaml.safe_load(_text("book/_config.yml"))
    footer = config["html"]["extra_footer"]
    assert "CC BY 4.0" in footer and "MIT" in footer
