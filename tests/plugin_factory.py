"""Make real installed plugin distributions for tests: a ``*.dist-info`` with ``entry_points.txt`` and a module in a
folder, which is what ``pip install`` leaves behind. The folder is not put on this process's ``sys.path``: a test
puts it there for itself and undoes it (the ``site`` fixture's ``monkeypatch.syspath_prepend``), or hands it to a
subprocess as ``PYTHONPATH``. Left on ``sys.path``, one test's broken plugins broke every later test that loads the
registry (test_plugins after test_sweep: 9 failures).

Python remembers a ``sys.path`` folder that did not exist when an import looked there (a ``None`` in
``sys.path_importer_cache``) and never looks again; ``install_plugin`` clears that, as installers do, so a plugin
written after the folder went on ``sys.path`` and an import ran is still found."""

from __future__ import annotations

import importlib
import textwrap
from pathlib import Path


def install_plugin(site: Path, package: str, version: str, entry_name: str, module: str, source: str) -> None:
    site.mkdir(parents=True, exist_ok=True)
    dist_info = site / f"{package.replace('-', '_')}-{version}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n")
    (dist_info / "entry_points.txt").write_text(f"[ddpm_bench]\n{entry_name} = {module}\n")
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    importlib.invalidate_caches()
