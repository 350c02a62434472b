"""Install pinned REAL codex CLI versions into a cache folder, and find them there.

`python -m fake_codex.testing.real_codex [--cache DIR] [VERSION ...]` runs `npm install
--prefix` (never global) from the npm registry into `DIR/<version>/`, finds the NATIVE codex
binary inside the install (not the node launcher, so a kill reaches codex itself), checks
`<binary> --version`, and writes its absolute path to `DIR/<version>/BINARY`. Idempotent: an
install whose BINARY still answers is skipped. No VERSION: every version the fake knows
(`versions.KNOWN_VERSIONS`). DIR defaults to `$FAKE_CODEX_CACHE`, else `./.codex-cache`.
Standard library only.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import platform
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fake_codex.core.files import write_atomic
from fake_codex.core.versions import KNOWN_VERSIONS

PACKAGE = "@openai/codex"
CACHE_ENV = "FAKE_CODEX_CACHE"

_TRIPLES = {
    "x86_64": ("x86_64-unknown-linux-musl", "x86_64-unknown-linux-gnu"),
    "amd64": ("x86_64-unknown-linux-musl", "x86_64-unknown-linux-gnu"),
    "aarch64": ("aarch64-unknown-linux-musl", "aarch64-unknown-linux-gnu"),
    "arm64": ("aarch64-unknown-linux-musl", "aarch64-unknown-linux-gnu"),
}


class InstallError(RuntimeError):
    """An install step failed; the message says which and what to do."""


class CodexNotInstalledError(RuntimeError):
    """The asked-for codex version is not in the cache folder."""

    def __init__(self, version: str, detail: str, cache_dir: Path | None = None) -> None:
        self.version = version
        where = f" --cache {cache_dir}" if cache_dir is not None else ""
        super().__init__(
            f"real codex {version} is not installed ({detail}); "
            f"run `python -m fake_codex.testing.real_codex{where} {version}`"
        )


def default_cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or ".codex-cache").absolute()


def binary_record(version: str, cache_dir: Path) -> Path:
    return cache_dir / version / "BINARY"


def native_binary(version: str, cache_dir: Path) -> Path:
    """The recorded native codex `version` (not run), or CodexNotInstalledError."""
    record = binary_record(version, cache_dir)
    try:
        text = record.read_text().strip()
    except FileNotFoundError:
        raise CodexNotInstalledError(version, f"{record} is missing", cache_dir) from None
    binary = Path(text)
    if not text or not binary.is_file():
        raise CodexNotInstalledError(version, f"{record} names a missing file {text!r}", cache_dir)
    return binary


def _triples() -> tuple[str, ...]:
    machine = platform.machine().lower()
    if sys.platform != "linux" or machine not in _TRIPLES:
        raise InstallError(
            f"unsupported platform {sys.platform}/{machine}: only linux x86_64/aarch64"
        )
    return _TRIPLES[machine]


def find_native_binary(prefix: Path) -> Path:
    """The native codex executable under an npm `--prefix` install.

    Layouts differ between versions: the binary sits in a platform package
    (`node_modules/@openai/codex-linux-x64/vendor/<triple>/bin/codex`) or in the main package's
    own `vendor/`. We look for `vendor/<triple>/.../codex` anywhere under `node_modules/@openai`.
    """
    root = prefix / "node_modules" / "@openai"
    candidates: list[Path] = []
    for triple in _triples():
        for vendor in sorted(root.glob(f"*/vendor/{triple}")):
            for name in ("codex/codex", "bin/codex", "codex"):
                path = vendor / name
                if path.is_file() and os.access(path, os.X_OK):
                    candidates.append(path)
    if not candidates:
        found = sorted(str(p.relative_to(prefix)) for p in root.glob("**/vendor/*/**/codex*"))
        raise InstallError(
            f"no native codex binary for {platform.machine()} under {root}; vendor files: {found}"
        )
    return candidates[0].resolve()


def check_version(binary: Path, version: str) -> None:
    """`binary --version` must print `codex-cli <version>`; else InstallError."""
    try:
        proc = subprocess.run(
            [str(binary), "--version"],
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "RUST_BACKTRACE": "0"},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InstallError(f"{binary} --version failed: {exc}") from exc
    expected = f"codex-cli {version}"
    if proc.returncode != 0 or proc.stdout.strip() != expected:
        raise InstallError(
            f"{binary} --version: expected {expected!r}, got rc={proc.returncode} "
            f"stdout={proc.stdout.strip()!r} stderr={proc.stderr.strip()[-500:]!r}"
        )


def installed_binary(version: str, cache_dir: Path) -> Path | None:
    """The recorded binary when it exists and still reports the right version, else None."""
    try:
        binary = native_binary(version, cache_dir)
        check_version(binary, version)
    except (CodexNotInstalledError, InstallError):
        return None
    return binary


def install(version: str, cache_dir: Path) -> Path:
    """Install one exact version (if needed) and return its native binary. Two processes
    installing the same version (pytest-xdist workers) take turns: the second finds it done."""
    existing = installed_binary(version, cache_dir)
    if existing is not None:
        return existing
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / f".{version}.install-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        existing = installed_binary(version, cache_dir)
        if existing is not None:
            return existing
        return _install(version, cache_dir)


def _install(version: str, cache_dir: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise InstallError("npm not found on PATH: install Node.js 20+ first")
    prefix = cache_dir / version
    fresh = not prefix.exists()
    prefix.mkdir(parents=True, exist_ok=True)
    try:
        return _npm_install(npm, prefix, version, cache_dir)
    except InstallError:
        if fresh:  # leave no half-made version dir that looks installed-ish
            shutil.rmtree(prefix, ignore_errors=True)
        raise


def _npm_install(npm: str, prefix: Path, version: str, cache_dir: Path) -> Path:
    cmd = [
        npm, "install", "--prefix", str(prefix), "--no-save", "--no-audit", "--no-fund",
        "--loglevel=error", f"{PACKAGE}@{version}",
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise InstallError(
            f"npm install {PACKAGE}@{version} failed (rc={proc.returncode}):\n"
            f"{proc.stderr.strip()[-2000:]}"
        )
    binary = find_native_binary(prefix)
    check_version(binary, version)
    write_atomic(binary_record(version, cache_dir), f"{binary}\n")
    return binary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fake_codex.testing.real_codex",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--cache", type=Path, default=None, help="the cache folder")
    parser.add_argument("versions", nargs="*", metavar="VERSION")
    args = parser.parse_args(argv)
    cache_dir = (args.cache or default_cache_dir()).absolute()
    versions = list(args.versions or KNOWN_VERSIONS)
    # All at once: each is an npm process mostly waiting on the network (a version's own lock
    # keeps two installs of it apart); reported in the order asked.
    with ThreadPoolExecutor(max_workers=max(1, len(versions))) as pool:
        outcomes = list(pool.map(lambda version: _timed_install(version, cache_dir), versions))
    failed = False
    for version, outcome in zip(versions, outcomes, strict=True):
        if isinstance(outcome, InstallError):
            print(f"real_codex: {version}: FAILED: {outcome}", file=sys.stderr)
            failed = True
        else:
            binary, took = outcome
            print(f"codex {version}: {binary} ({took:.1f}s)")
    return 1 if failed else 0


def _timed_install(version: str, cache_dir: Path) -> tuple[Path, float] | InstallError:
    start = time.monotonic()
    try:
        return install(version, cache_dir), time.monotonic() - start
    except InstallError as exc:
        return exc


if __name__ == "__main__":
    raise SystemExit(main())
