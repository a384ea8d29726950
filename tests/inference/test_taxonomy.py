import re

from inference.taxonomy import REQUESTED_LABELS, TAXONOMY
from tests.conftest import ROOT


def test_nine_labels_with_codes_and_version():
    assert len(TAXONOMY.ids) == 9
    assert TAXONOMY.version == "1.1"
    assert set(REQUESTED_LABELS) <= set(TAXONOMY.ids)
    for label in TAXONOMY.labels:
        assert label.cameo and label.plover and label.name


def test_matches_the_codebook():
    """Every id the code knows is defined in the project's codebook, and no other."""
    codebook = (ROOT / "data" / "CODEBOOK.md").read_text(encoding="utf-8")
    defined = re.findall(r"^## `(\w+)`", codebook, flags=re.MULTILINE)
    assert tuple(defined) == TAXONOMY.ids


def test_inference_imports_without_training_dependencies():
    """DESIGN: `inference` must import without mlflow, datasets or scikit-learn."""
    import subprocess
    import sys

    code = ("import sys, inference; bad = [m for m in ('mlflow', 'datasets', 'sklearn', 'training') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_readme_label_table_is_the_taxonomy():
    rows = [line for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
            if line.startswith("| `") and line.count("|") == 6]
    table = {}
    for row in rows:
        label, name, _, cameo, plover = (cell.strip() for cell in row.strip("|").split("|"))
        table[label.strip("`")] = (name, cameo, plover)
    assert table == {label.id: (label.name, ", ".join(label.cameo), label.plover) for label in TAXONOMY.labels}
