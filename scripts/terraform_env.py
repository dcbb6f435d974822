#!/usr/bin/env python3
"""Run Terraform against a local provider mirror when the registry cannot be reached.

Finds the hashicorp/aws provider in a filesystem mirror (unpacked layout), writes a CLI
configuration from terraform/cli/mirror.tfrc.tpl and sets TF_CLI_CONFIG_FILE and a plugin cache:

    eval "$(python scripts/terraform_env.py)"              # export them into this shell
    python scripts/terraform_env.py -- terraform -chdir=terraform/environments/aws init -backend=false

The mirror is taken from $TF_PROVIDER_MIRROR, else the first conventional plugin directory that holds
the provider. tests/terraform uses the same functions.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "terraform" / "cli" / "mirror.tfrc.tpl"
REGISTRY = "registry.terraform.io"
MIRROR_ENV = "TF_PROVIDER_MIRROR"

_MACHINES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


@dataclass(frozen=True)
class Mirror:
    """A filesystem mirror root and the versions of one provider it holds for this platform."""

    root: Path
    provider: str
    versions: tuple[str, ...]

    @property
    def newest(self) -> str:
        return max(self.versions, key=version_key)


def version_key(version: str) -> tuple[int, ...]:
    """Sort key of a dotted version such as 5.100.0 (pre-release suffixes are ignored)."""
    parts = []
    for part in version.split("-", 1)[0].split("."):
        parts.append(int(part) if part.isdigit() else 0)
    return tuple(parts)


def current_platform() -> str:
    """Terraform's name for this machine's platform, e.g. linux_amd64."""
    machine = platform.machine().lower()
    return f"{platform.system().lower()}_{_MACHINES.get(machine, machine)}"


def candidate_roots(env: dict[str, str] | None = None) -> list[Path]:
    """Mirror roots to search, most specific first."""
    env = dict(os.environ if env is None else env)
    home = Path(env.get("HOME", str(Path.home())))
    roots: list[Path] = []
    if env.get(MIRROR_ENV):
        roots.append(Path(env[MIRROR_ENV]))
    roots.append(Path("/opt/tf-plugins"))
    roots.append(home / ".terraform.d" / "plugins")
    data_home = Path(env.get("XDG_DATA_HOME") or home / ".local" / "share")
    roots.append(data_home / "terraform" / "plugins")
    for data_dir in (env.get("XDG_DATA_DIRS") or "/usr/local/share:/usr/share").split(":"):
        if data_dir:
            roots.append(Path(data_dir) / "terraform" / "plugins")
    roots += [Path("/usr/local/share/terraform/plugins"), Path("/usr/share/terraform/plugins")]
    unique: list[Path] = []
    for root in roots:
        if root not in unique:
            unique.append(root)
    return unique


def mirror_root_of(path: Path) -> Path:
    """The mirror root for a path that may point inside it (…/registry.terraform.io/hashicorp/aws/5.100.0)."""
    parts = path.parts
    if REGISTRY in parts:
        return Path(*parts[: parts.index(REGISTRY)])
    return path


def find_mirror(
    provider: str = "hashicorp/aws", env: dict[str, str] | None = None, target: str | None = None
) -> Mirror | None:
    """The first mirror holding `provider` for this platform, or None."""
    target = target or current_platform()
    for candidate in candidate_roots(env):
        root = mirror_root_of(candidate)
        provider_dir = root / REGISTRY / provider
        if not provider_dir.is_dir():
            continue
        versions = tuple(
            sorted(
                (
                    d.name
                    for d in provider_dir.iterdir()
                    if any((d / target).glob(f"terraform-provider-{provider.split('/')[-1]}*"))
                ),
                key=version_key,
            )
        )
        if versions:
            return Mirror(root=root.resolve(), provider=provider, versions=versions)
    return None


def write_cli_config(mirror_root: Path, dest: Path) -> Path:
    """Write the CLI configuration for `mirror_root` to `dest` and return it."""
    text = TEMPLATE.read_text(encoding="utf-8").replace("@MIRROR@", str(mirror_root))
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(text, encoding="utf-8")
    return dest


def cache_dir(env: dict[str, str] | None = None) -> Path:
    env = dict(os.environ if env is None else env)
    base = Path(env.get("XDG_CACHE_HOME") or Path(env.get("HOME", str(Path.home()))) / ".cache")
    return base / "etl-terraform"


def terraform_environment(mirror: Mirror, env: dict[str, str] | None = None) -> dict[str, str]:
    """The variables that make Terraform install providers from `mirror`."""
    base = cache_dir(env)
    config = write_cli_config(mirror.root, base / "mirror.tfrc")
    plugin_cache = base / "plugin-cache"
    plugin_cache.mkdir(parents=True, exist_ok=True)
    return {"TF_CLI_CONFIG_FILE": str(config), "TF_PLUGIN_CACHE_DIR": str(plugin_cache)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "command", nargs=argparse.REMAINDER, help="-- then a command to run with the variables set"
    )
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    mirror = find_mirror()
    if mirror is None:
        roots = ", ".join(str(r) for r in candidate_roots())
        print(f"error: no hashicorp/aws provider for {current_platform()} in {roots}", file=sys.stderr)
        print(f"set {MIRROR_ENV} to the directory holding {REGISTRY}/", file=sys.stderr)
        return 2
    variables = terraform_environment(mirror)
    if not command:
        for name, value in variables.items():
            print(f"export {name}={shlex.quote(value)}")
        print(f"# hashicorp/aws {', '.join(mirror.versions)} from {mirror.root}", file=sys.stderr)
        return 0
    return subprocess.run(command, env={**os.environ, **variables}, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
