"""The docs' feature table says what the code computes."""

from pathlib import Path

from alpha_core.features.library import FEATURES, feature_table

DOC = Path(__file__).resolve().parents[1] / "docs" / "features.md"


def test_every_feature_is_documented_with_its_definition():
    text = DOC.read_text()
    for feature in FEATURES:
        assert f"| `{feature.name}` | {feature.definition} |" in text, feature.name


def test_the_feature_table_is_the_generated_one():
    assert feature_table() in DOC.read_text()
