"""The notebooks: executed top to bottom by a Jupyter kernel (nbclient), at small sizes.

Each notebook has one cell tagged ``parameters`` (step counts and sizes); the test runs the
notebook with that cell replaced by the small values below, in a fresh working directory, and a
failing cell fails the test with that cell's traceback. Notebooks are committed without outputs.
"""

import pathlib

import nbformat
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(ROOT.glob("*.ipynb"))
SMALL = {
    "01_compose_bijectors": "STEPS = 20",
    "02_train_and_restore": "STEPS = 40\nMORE_STEPS = 20",
    "03_samplers": "STEPS = 60\nREFLOW_PAIRS = 256",
    "04_families": "STEPS = 6\nTINY = True",
}


def _parameter_cell(book) -> int:
    tagged = [i for i, c in enumerate(book.cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "a notebook has exactly one cell tagged 'parameters'"
    return tagged[0]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path):
    book = nbformat.read(path, as_version=4)
    nbformat.validate(book)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: strip the outputs"
    _parameter_cell(book)
    source = "\n".join(c.source for c in book.cells if c.cell_type == "code")
    assert "/tmp" not in source and "gettempdir" not in source, "notebooks write under the working directory"


def test_every_notebook_has_small_parameters():
    assert {p.stem for p in NOTEBOOKS} == set(SMALL)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path, tmp_path):
    from nbclient import NotebookClient

    book = nbformat.read(path, as_version=4)
    book.cells[_parameter_cell(book)].source = SMALL[path.stem]
    client = NotebookClient(book, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError with the failing cell's traceback
    images = [o for c in book.cells if c.cell_type == "code" for o in c.outputs
              if o.get("output_type") == "display_data" and "image/png" in o.get("data", {})]
    assert images, "figures render inline"
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert all(tmp_path in p.parents for p in written)
