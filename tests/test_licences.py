"""The licence files: LICENSE (MIT, the code), LICENSE-CONTENT.md (CC BY 4.0 for the notebooks' prose and figures,
the corpus' licence pointed to), CITATION.cff (parses, names pyproject's version, cites the RetNet paper), and the
SPDX expression in pyproject.toml."""

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def citation() -> dict:
    return yaml.safe_load((ROOT / "CITATION.cff").read_text())


def test_the_licence_files_exist():
    for name in ("LICENSE", "LICENSE-CONTENT.md", "CITATION.cff", "data/README.md"):
        assert (ROOT / name).is_file(), f"{name} is missing"


def test_code_is_mit():
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n")
    assert "Copyright (c) 2026 the retnet-edu authors" in text
    assert "Permission is hereby granted, free of charge" in text and 'THE SOFTWARE IS PROVIDED "AS IS"' in text


def test_pyproject_license_is_the_spdx_expression_mit():
    project = pyproject()["project"]
    assert project["license"] == "MIT", "PEP 639: license is an SPDX expression string"
    assert project["license-files"] == ["LICENSE"]
    assert not any(c.startswith("License ::") for c in project.get("classifiers", [])), "PEP 639 forbids both"
    # setuptools reads the string form from 77 on
    assert any(r.replace(" ", "").startswith("setuptools>=77") for r in pyproject()["build-system"]["requires"])


def test_content_licence_names_cc_by_4_and_points_to_the_corpus():
    text = (ROOT / "LICENSE-CONTENT.md").read_text()
    assert "Creative Commons Attribution 4.0 International" in text and "CC-BY-4.0" in text
    assert "https://creativecommons.org/licenses/by/4.0/legalcode" in text
    assert "the retnet-edu authors, licensed under" in text  # the attribution to give
    assert "notebooks" in text and "prose and figures" in text
    assert "[`LICENSE`](LICENSE)" in text and "MIT" in text
    assert "data/README.md#provenance-and-licence" in text and "public domain" in text
    corpus = (ROOT / "data" / "README.md").read_text()
    assert "### Provenance and licence" in corpus  # the anchor LICENSE-CONTENT.md links to


def test_citation_cff_parses_and_names_the_version():
    cff = citation()
    assert cff["cff-version"] == "1.2.0"
    assert cff["version"] == pyproject()["project"]["version"]
    assert cff["license"] == "MIT"
    assert cff["authors"] == [{"name": "The retnet-edu authors"}]
    assert str(cff["date-released"]) == "2026-11-29"
    for key in ("message", "title"):
        assert isinstance(cff[key], str) and cff[key]


def test_citation_cff_cites_the_retnet_paper():
    (paper,) = [r for r in citation()["references"] if "2307.08621" in r.get("url", "")]
    assert paper["title"] == "Retentive Network: A Successor to Transformer for Large Language Models"
    assert paper["year"] == 2023
    assert paper["authors"][0] == {"family-names": "Sun", "given-names": "Yutao"} and len(paper["authors"]) == 8
    assert {"type": "doi", "value": "10.48550/arXiv.2307.08621"} in paper["identifiers"]


def test_readme_points_to_the_licences():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Licence", 1)[1]
    for target in ("LICENSE", "LICENSE-CONTENT.md", "CITATION.cff", "data/README.md", "CC BY 4.0"):
        assert target in section, f"README's licence section does not name {target}"
