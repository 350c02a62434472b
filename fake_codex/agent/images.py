"""`--image` files → the parts of the user message, as the real codex 0.135–0.171 builds them.

Per image, in argv order (measured, /tmp facts of issue 13): a PNG/JPEG/WebP becomes an open tag
`<image name=[Image #N] path="P">` (0.135: no path), an `input_image` with the file's bytes as a
data URL, and `</image>`. A file that cannot be read becomes one text note; a file that is not an
image becomes a note (0.135) or the tags around `image content omitted…` (0.150+). Codex does
not fail the turn for either. What the fake cannot do says so (FakeLimitation): codex re-encodes
GIFs and images wider or taller than 2048 px, and the fake has no image codec.
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_VERBATIM_SIDE = 2048  # largest side measured to pass through codex unchanged
OMITTED = "image content omitted because it could not be processed"


class ImageLimitation(Exception):
    """An image the real codex would re-encode; the fake cannot (exit 70)."""


@dataclass(frozen=True)
class ImageParts:
    """The user message's image parts: as sent to the model and as written to the rollout."""

    request: list[dict[str, Any]]
    rollout: list[dict[str, Any]]
    local_images: list[str]  # the paths as given (0.135 `user_message.local_images`)


def sniff(data: bytes) -> str | None:
    """The mime type codex would send for these bytes, or None when it is no image."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        length = struct.unpack(">H", data[i + 2 : i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        i += 2 + length
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8X" and len(data) >= 30:
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


def image_size(mime: str, data: bytes) -> tuple[int, int] | None:
    if mime == "image/png" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if mime == "image/jpeg":
        return _jpeg_size(data)
    if mime == "image/webp":
        return _webp_size(data)
    return None


def _guessed_mime(path: str) -> str:
    import mimetypes  # only for the 0.135 note about a file that is not an image

    return mimetypes.guess_type(path)[0] or "application/octet-stream"


def _text(text: str) -> dict[str, Any]:
    return {"type": "input_text", "text": text}


def image_parts(paths: tuple[str, ...], family: int, cwd: Path) -> ImageParts:
    """Read every image (relative paths from `cwd`) and build the parts codex would send."""
    request: list[dict[str, Any]] = []
    rollout: list[dict[str, Any]] = []

    def both(part: dict[str, Any]) -> None:
        request.append(part)
        rollout.append(part)

    for number, path in enumerate(paths, start=1):
        try:
            data = (cwd / path).read_bytes()
        except OSError as exc:
            both(_text(f"Codex could not read the local image at `{path}`: {_os_error(exc)}"))
            continue
        open_tag = (
            f"<image name=[Image #{number}]>"
            if family < 150
            else f'<image name=[Image #{number}] path="{path}">'
        )
        mime = sniff(data)
        if mime is None:
            if family < 150:
                note = f"Codex cannot attach image at `{path}`: unsupported image "
                both(_text(note + f"`{_guessed_mime(path)}`."))
            else:
                for text in (open_tag, OMITTED, "</image>"):
                    both(_text(text))
            continue
        size = image_size(mime, data)
        if mime == "image/gif" or size is None or max(size) > MAX_VERBATIM_SIDE:
            raise ImageLimitation(
                f"fake-codex: image {path} ({mime}, {size}) would be re-encoded by codex; the "
                f"fake only passes PNG/JPEG/WebP up to {MAX_VERBATIM_SIDE} px through unchanged"
            )
        url = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
        sent: dict[str, Any] = {"type": "input_image", "image_url": url}
        if family < 150:
            sent["detail"] = "high"
        kept = {**sent, "detail": "original" if family >= 169 else "high"}
        both(_text(open_tag))
        request.append(sent)
        rollout.append(kept)
        both(_text("</image>"))
    return ImageParts(request, rollout, list(paths))


def _os_error(exc: OSError) -> str:
    """Rust's io::Error display: `<strerror> (os error N)`."""
    return f"{exc.strerror} (os error {exc.errno})"
