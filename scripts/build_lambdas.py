#!/usr/bin/env python3
"""Build one reproducible Lambda zip per function package: dist/<package>.zip.

Each zip holds the pure-Python source trees listed in `etl_aws.contract.PACKAGES` plus the runtime
dependencies of `lambdas/<package>/requirements.txt`, installed as manylinux wheels for the Lambda
runtime. Wheels are downloaded once into a cache (`dist/.cache` by default), so rebuilds are fast and
work offline. Rebuilding from the same tree gives a byte-identical zip: entries are sorted, timestamps,
permissions and compression are fixed, and files that embed machine-specific content (`bin/` scripts
with an interpreter shebang, `*.dist-info/RECORD` listing their hashes, bytecode) are left out.
That keeps Terraform's `source_code_hash` stable.

Exit codes: 0 built, 1 a package is over a Lambda size limit or the build failed, 3 the wheels could
not be fetched and no cache holds them.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "packages" / "etl_aws" / "src"))

from etl_aws import contract  # noqa: E402  (the path above makes the script work before `make venv`)

PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}
SOURCE_SUFFIXES = frozenset({".py", ".json", ".html", ".css"})
SKIPPED_DIRS = frozenset({"__pycache__", "tests", "test"})
# Files pip writes that either embed the build machine (RECORD hashes the generated `bin/` scripts,
# whose shebang is this interpreter's path; direct_url.json holds a local file URL) or are bytecode.
SKIPPED_DIST_INFO_FILES = frozenset({"RECORD", "direct_url.json"})
SKIPPED_TOP_LEVEL = frozenset({"bin"})

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644
DIR_MODE = 0o040755
MSDOS_DIRECTORY = 0x10
UNIX = 3
COMPRESS_LEVEL = 6

# Lambda quotas: 50 MB for a zip uploaded directly (Terraform's `filename`), 250 MB unzipped for a function
# and its layers: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
MIB = 1024 * 1024
MAX_ZIPPED_BYTES = 50 * MIB
MAX_UNZIPPED_BYTES = 250 * MIB

EXIT_OVER_LIMIT = 1
EXIT_WHEELS_UNAVAILABLE = 3


class WheelsUnavailableError(RuntimeError):
    """The wheels for a requirements file are neither in the cache nor downloadable."""


@dataclass(frozen=True)
class Target:
    """What the dependencies are built for."""

    arch: str
    python_version: str

    @property
    def platform(self) -> str:
        return PLATFORMS[self.arch]

    @property
    def tag(self) -> str:
        return f"{self.platform}-cp{self.python_version.replace('.', '')}"

    def pip_args(self) -> list[str]:
        return [
            "--platform",
            self.platform,
            "--implementation",
            "cp",
            "--python-version",
            self.python_version,
            "--only-binary=:all:",
        ]


@dataclass(frozen=True)
class Report:
    """Size and digest of one built zip."""

    package: str
    path: Path
    zipped_bytes: int
    unzipped_bytes: int
    sha256: str

    def problems(self) -> list[str]:
        out = []
        if self.zipped_bytes > MAX_ZIPPED_BYTES:
            out.append(f"{self.package}: zip is {self.zipped_bytes:,} bytes (limit {MAX_ZIPPED_BYTES:,})")
        if self.unzipped_bytes > MAX_UNZIPPED_BYTES:
            out.append(
                f"{self.package}: unzipped size is {self.unzipped_bytes:,} bytes "
                f"(limit {MAX_UNZIPPED_BYTES:,})"
            )
        return out


def requirement_lines(path: Path) -> list[str]:
    """The requirement specifiers of a requirements file, without comments and blank lines."""
    if not path.is_file():
        return []
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line]


def run_pip(args: list[str]) -> subprocess.CompletedProcess[str]:
    """Run this interpreter's pip quietly; its output is shown only when it fails."""
    command = [sys.executable, "-m", "pip", *args, "--quiet", "--disable-pip-version-check"]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def wheel_dir(requirements: list[str], target: Target, cache: Path) -> Path:
    """The cache directory holding every wheel `requirements` resolves to, downloading it once.

    The directory is keyed on the requirement lines and the target, and is only ever filled whole, so
    its contents pin the resolved dependency set: an offline rebuild installs exactly the same wheels.
    """
    key = hashlib.sha256("\n".join([target.tag, *requirements]).encode()).hexdigest()[:16]
    final = cache / "wheels" / f"{target.tag}-{key}"
    if (final / ".complete").is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".download-", dir=final.parent))
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as req:
            req.write("\n".join(requirements) + "\n")
        result = run_pip(["download", "-r", req.name, *target.pip_args(), "--dest", str(staging)])
        Path(req.name).unlink()
        if result.returncode != 0:
            raise WheelsUnavailableError(
                f"pip could not download the wheels for {target.tag} and {final} is not cached:\n"
                + result.stderr.strip()
            )
        (staging / ".complete").write_text("\n".join(requirements) + "\n", encoding="utf-8")
        try:
            staging.rename(final)
        except OSError:
            if not (final / ".complete").is_file():  # another build finished first otherwise
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def install_dependencies(requirements: list[str], target: Target, wheels: Path, into: Path) -> None:
    """Install `requirements` from the cached wheels only, as the Lambda runtime would import them."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as req:
        req.write("\n".join(requirements) + "\n")
    try:
        result = run_pip(
            [
                "install",
                "--no-index",
                "--find-links",
                str(wheels),
                "-r",
                req.name,
                *target.pip_args(),
                "--target",
                str(into),
                "--no-compile",
                "--no-warn-script-location",
            ]
        )
    finally:
        Path(req.name).unlink()
    if result.returncode != 0:
        raise RuntimeError(f"pip install from {wheels} failed:\n{result.stderr.strip()}")


def dependency_files(site: Path) -> Iterator[tuple[str, Path]]:
    """(archive name, file) for every installed dependency file that belongs in the zip."""
    for path in sorted(site.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(site)
        parts = rel.parts
        if parts[0] in SKIPPED_TOP_LEVEL or "__pycache__" in parts or path.suffix in {".pyc", ".pyo"}:
            continue
        if parts[0].endswith(".dist-info") and len(parts) == 2 and parts[1] in SKIPPED_DIST_INFO_FILES:
            continue
        yield rel.as_posix(), path


def source_files(trees: Iterable[str], root: Path) -> Iterator[tuple[str, Path]]:
    """(archive name, file) for the source of every package under `<tree>/src` of the given trees."""
    for tree in trees:
        src = root / tree / "src"
        if not src.is_dir():
            continue
        for top in sorted(src.iterdir()):
            if top.name.startswith(".") or top.name.endswith(".egg-info") or top.name in SKIPPED_DIRS:
                continue
            candidates = [top] if top.is_file() else sorted(top.rglob("*"))
            for path in candidates:
                rel = path.relative_to(src)
                if not path.is_file() or path.suffix not in SOURCE_SUFFIXES:
                    continue
                if any(part in SKIPPED_DIRS or part.startswith(".") for part in rel.parts[:-1]):
                    continue
                yield rel.as_posix(), path


def directories(names: Iterable[str]) -> set[str]:
    """Every parent directory of the given archive names, as `a/`, `a/b/`."""
    out: set[str] = set()
    for name in names:
        parts = name.split("/")[:-1]
        out.update("/".join(parts[: i + 1]) + "/" for i in range(len(parts)))
    return out


def write_zip(entries: dict[str, Path], path: Path) -> int:
    """Write a deterministic zip of `entries`; return the total unzipped size of its files."""
    unzipped = 0
    partial = path.with_name(path.name + ".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL) as zf:
        for name in sorted([*entries, *directories(entries)]):
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.create_system = UNIX
            if name.endswith("/"):
                info.external_attr = (DIR_MODE << 16) | MSDOS_DIRECTORY
                info.compress_type = zipfile.ZIP_STORED
                zf.writestr(info, b"")
                continue
            data = entries[name].read_bytes()
            unzipped += len(data)
            info.external_attr = FILE_MODE << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL)
    partial.replace(path)
    return unzipped


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class DependencySites:
    """Installed dependency trees, one per distinct requirements list (packages often share one)."""

    def __init__(self, target: Target, cache: Path, work: Path) -> None:
        self.target, self.cache, self.work = target, cache, work
        self._sites: dict[tuple[str, ...], Path] = {}

    def site(self, requirements: list[str]) -> Path:
        key = tuple(requirements)
        if key not in self._sites:
            site = self.work / f"site-{len(self._sites)}"
            wheels = wheel_dir(requirements, self.target, self.cache)
            install_dependencies(requirements, self.target, wheels, site)
            self._sites[key] = site
        return self._sites[key]


def build_package(package: str, out: Path, sites: DependencySites) -> Report:
    """Build <out>/<package>.zip from the contract's source trees and the package's requirements."""
    requirements = requirement_lines(ROOT / "lambdas" / package / "requirements.txt")
    entries: dict[str, Path] = {}
    if requirements:
        entries.update(dependency_files(sites.site(requirements)))
    for name, path in source_files(contract.PACKAGES[package], ROOT):
        if name in entries:
            raise RuntimeError(f"{package}: {name} is both project source and a dependency file")
        entries[name] = path
    zip_path = out / f"{package}.zip"
    unzipped = write_zip(entries, zip_path)
    return Report(package, zip_path, zip_path.stat().st_size, unzipped, sha256_of(zip_path))


def print_report(reports: list[Report]) -> None:
    print(f"{'package':<10} {'zip bytes':>12} {'unzipped bytes':>15}  sha256")
    for r in reports:
        print(f"{r.package:<10} {r.zipped_bytes:>12,} {r.unzipped_bytes:>15,}  {r.sha256[:12]}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--arch", choices=sorted(PLATFORMS), default="arm64", help="Lambda architecture")
    parser.add_argument("--python-version", default="3.13", help="Lambda runtime Python version")
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="where the zips go")
    parser.add_argument("--cache", type=Path, default=ROOT / "dist" / ".cache", help="wheel cache")
    parser.add_argument(
        "--package",
        action="append",
        choices=sorted(contract.PACKAGES),
        help="build only this package (repeatable); default: all",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    target = Target(args.arch, args.python_version)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    packages = args.package or list(contract.PACKAGES)
    try:
        with tempfile.TemporaryDirectory(prefix="build-lambdas-") as work:
            sites = DependencySites(target, args.cache.resolve(), Path(work))
            reports = [build_package(p, out, sites) for p in packages]
    except WheelsUnavailableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_WHEELS_UNAVAILABLE
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_OVER_LIMIT
    print_report(reports)
    problems = [p for r in reports for p in r.problems()]
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return EXIT_OVER_LIMIT if problems else 0


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(main())
