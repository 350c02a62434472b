"""Install pinned real codex CLI versions into `<repo>/.codex-cache/<version>/` for e2e tests.

`python scripts/install_codex.py [VERSION ...]` runs `npm install --prefix` (never global) from the
npm registry, finds the NATIVE codex binary inside the install (not the node launcher, so a kill
reaches codex itself), checks `<binary> --version`, and writes its absolute path to
`.codex-cache/<version>/BINARY`. Idempotent: an install whose BINARY still answers is skipped.
Standard library only; importable (`install`, `find_native_binary`, `DEFAULT_VERSIONS`).
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_VERSIONS: tuple[str, ...] = ("0.135.0", "0.150.1", "0.169.0", "0.171.0")
REPO_ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = REPO_ROOT / ".codex-cache"
PACKAGE = "@openai/codex"

_TRIPLES = {
    "x86_64": ("x86_64-unknown-linux-musl", "x86_64-unknown-linux-gnu"),
    "amd64": ("x86_64-unknown-linux-musl", "x86_64-unknown-linux-gnu"),
    "aarch64": ("aarch64-unknown-linux-musl", "aarch64-unknown-linux-gnu"),
    "arm64": ("aarch64-unknown-linux-musl", "aarch64-unknown-linux-gnu"),
}


class InstallError(RuntimeError):
    """An install step failed; the message says which and what to do."""


def version_dir(version: str, cache_dir: Path = CACHE_DIR) -> Path:
    return cache_dir / version


def binary_record(version: str, cache_dir: Path = CACHE_DIR) -> Path:
    return version_dir(version, cache_dir) / "BINARY"


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


def _check_version(binary: Path, version: str) -> None:
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


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".BINARY.")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def installed_binary(version: str, cache_dir: Path = CACHE_DIR) -> Path | None:
    """The recorded binary when it exists and still reports the right version, else None."""
    record = binary_record(version, cache_dir)
    if not record.is_file():
        return None
    binary = Path(record.read_text().strip())
    try:
        _check_version(binary, version)
    except InstallError:
        return None
    return binary


def install(version: str, cache_dir: Path = CACHE_DIR) -> Path:
    """Install one exact version (if needed) and return its native binary."""
    existing = installed_binary(version, cache_dir)
    if existing is not None:
        return existing
    npm = shutil.which("npm")
    if npm is None:
        raise InstallError("npm not found on PATH: install Node.js 20+ first")
    prefix = version_dir(version, cache_dir)
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
    _check_version(binary, version)
    _write_atomic(binary_record(version, cache_dir), f"{binary}\n")
    return binary


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help") for a in args):
        print(__doc__)
        return 0
    versions = args or list(DEFAULT_VERSIONS)
    failed = False
    for version in versions:
        start = time.monotonic()
        try:
            binary = install(version)
        except InstallError as exc:
            print(f"install_codex: {version}: FAILED: {exc}", file=sys.stderr)
            failed = True
            continue
        print(f"codex {version}: {binary} ({time.monotonic() - start:.1f}s)")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
