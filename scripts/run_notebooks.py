"""Execute notebooks in place so their stored outputs are what nbval will compare against.

Run after editing a notebook: ``python scripts/run_notebooks.py notebooks/02_data.ipynb``.
"""

from __future__ import annotations

import sys

import nbformat
from nbclient import NotebookClient


def main(paths: list[str]) -> None:
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        NotebookClient(
            nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": "."}}
        ).execute()
        nbformat.write(nb, path)
        print("executed", path)


if __name__ == "__main__":
    main(sys.argv[1:])
