"""Make real installed plugin distributions for tests: a ``*.dist-info`` with ``entry_points.txt`` and a module,
on a folder that is put on ``sys.path``, which is what ``pip install`` leaves behind."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path


def install_plugin(site: Path, package: str, version: str, entry_name: str, module: str, source: str) -> None:
    site.mkdir(parents=True, exist_ok=True)
    dist_info = site / f"{package.replace('-', '_')}-{version}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n")
    (dist_info / "entry_points.txt").write_text(f"[ddpm_bench]\n{entry_name} = {module}\n")
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    if str(site) not in sys.path:
        sys.path.insert(0, str(site))
