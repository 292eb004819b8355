"""A PEP 517 build backend in the standard library alone, so that
``pip install clients/python`` works with no package index.

pip builds a project in an isolated environment into which it first installs
the project's ``build-system.requires`` from the index: with setuptools there,
an offline machine cannot install the package at all. This backend needs
nothing (``requires = []``): it reads the standard ``[project]`` table of
pyproject.toml (PEP 621) and writes a pure-Python wheel (PEP 427), an sdist
(PEP 517) or an editable wheel (PEP 660) of ``src/vigil_client``. The table is
standard, so setuptools (``build-backend = "setuptools.build_meta"``) builds
the same package where an index is reachable.
"""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Fixed timestamps: the same sources make byte-identical archives.
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)


def _project() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)["project"]


def _names(project: dict) -> tuple[str, str, str]:
    """(distribution name normalized for file names, version, import package)."""
    name = project["name"].replace("-", "_").replace(".", "_").lower()
    return name, project["version"], project["name"].replace("-", "_")


def _metadata(project: dict) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {project['name']}", f"Version: {project['version']}"]
    if "description" in project:
        lines.append(f"Summary: {project['description']}")
    if "requires-python" in project:
        lines.append(f"Requires-Python: {project['requires-python']}")
    for dep in project.get("dependencies", []):
        lines.append(f"Requires-Dist: {dep}")
    for extra, deps in project.get("optional-dependencies", {}).items():
        lines.append(f"Provides-Extra: {extra}")
        lines.extend(f"Requires-Dist: {d}; extra == \"{extra}\"" for d in deps)
    for classifier in project.get("classifiers", []):
        lines.append(f"Classifier: {classifier}")
    readme = project.get("readme")
    body = ""
    if isinstance(readme, str):
        lines.append("Description-Content-Type: text/markdown")
        body = "\n" + (ROOT / readme).read_text(encoding="utf-8")
    return "\n".join(lines) + "\n" + body


def _package_files(package: str) -> list[Path]:
    src = ROOT / "src" / package
    return sorted(p for p in src.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo"))


class _Wheel:
    def __init__(self, path: Path) -> None:
        self.zip = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED)
        self.records: list[str] = []

    def add(self, arcname: str, data: bytes) -> None:
        info = zipfile.ZipInfo(arcname, _ZIP_TIME)
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        self.zip.writestr(info, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        self.records.append(f"{arcname},sha256={digest},{len(data)}")

    def finish(self, dist_info: str) -> None:
        record = f"{dist_info}/RECORD"
        self.records.append(f"{record},,")
        self.zip.writestr(zipfile.ZipInfo(record, _ZIP_TIME), "\n".join(self.records) + "\n")
        self.zip.close()


def _build(wheel_directory: str, editable: bool) -> str:
    project = _project()
    dist, version, package = _names(project)
    filename = f"{dist}-{version}-py3-none-any.whl"
    dist_info = f"{dist}-{version}.dist-info"
    wheel = _Wheel(Path(wheel_directory) / filename)
    if editable:
        # PEP 660: a .pth file puts the source folder on sys.path.
        wheel.add(f"_{dist}_editable.pth", (str(ROOT / "src") + "\n").encode())
    else:
        for path in _package_files(package):
            wheel.add(path.relative_to(ROOT / "src").as_posix(), path.read_bytes())
    wheel.add(f"{dist_info}/METADATA", _metadata(project).encode())
    wheel.add(f"{dist_info}/WHEEL",
              b"Wheel-Version: 1.0\nGenerator: vigil_build\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    wheel.add(f"{dist_info}/top_level.txt", f"{package}\n".encode())
    wheel.finish(dist_info)
    return filename


# ------------------------------------------------------------------ PEP 517 / 660 hooks

def get_requires_for_build_wheel(config_settings: dict | None = None) -> list[str]:
    return []


def get_requires_for_build_sdist(config_settings: dict | None = None) -> list[str]:
    return []


def get_requires_for_build_editable(config_settings: dict | None = None) -> list[str]:
    return []


def build_wheel(wheel_directory: str, config_settings: dict | None = None,
                metadata_directory: str | None = None) -> str:
    return _build(wheel_directory, editable=False)


def build_editable(wheel_directory: str, config_settings: dict | None = None,
                   metadata_directory: str | None = None) -> str:
    return _build(wheel_directory, editable=True)


def build_sdist(sdist_directory: str, config_settings: dict | None = None) -> str:
    project = _project()
    dist, version, package = _names(project)
    base = f"{dist}-{version}"
    files = [ROOT / "pyproject.toml", ROOT / "README.md", *sorted((ROOT / "build_backend").glob("*.py")),
             *_package_files(package)]
    pkg_info = _metadata(project).encode()
    path = Path(sdist_directory) / f"{base}.tar.gz"
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for f in files:
            if f.exists():
                data = f.read_bytes()
                info = tarfile.TarInfo(f"{base}/{f.relative_to(ROOT).as_posix()}")
                info.size, info.mode, info.mtime = len(data), 0o644, 1577836800
                tar.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo(f"{base}/PKG-INFO")
        info.size, info.mode, info.mtime = len(pkg_info), 0o644, 1577836800
        tar.addfile(info, io.BytesIO(pkg_info))
    return path.name


__all__ = ["build_wheel", "build_sdist", "build_editable", "get_requires_for_build_wheel",
           "get_requires_for_build_sdist", "get_requires_for_build_editable"]
