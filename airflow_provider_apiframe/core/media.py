"""
What a file is, from its first bytes, and the checks of an input file before it is uploaded.

The API sniffs uploads the same way and ignores declared types; an input is checked for where it
is, its size and its kind.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

Kind = Literal["image", "video", "audio"]

#: The image types the API takes as inputs, and the file extension this provider gives each.
IMAGE_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpeg", "image/webp": "webp", "image/gif": "gif"}
#: Every media type the API takes or returns, and the file extension this provider gives each.
EXTENSIONS = {
    **IMAGE_EXTENSIONS,
    "video/mp4": "mp4",
    "video/webm": "webm",
    "video/quicktime": "mov",
    "audio/mpeg": "mp3",
    "audio/wav": "wav",
    "audio/ogg": "ogg",
    "audio/mp4": "m4a",
}
_BY_EXTENSION = {ext: content_type for content_type, ext in EXTENSIONS.items()} | {
    "jpg": "image/jpeg",
    "m4v": "video/mp4",
    "oga": "audio/ogg",
    "opus": "audio/ogg",
    "wave": "audio/wav",
}
#: How an input file may be given, as refusals word it.
INPUT_ALLOWED = "allowed: an http:// or https:// URL, a local path or an ObjectStoragePath"
#: Largest upload the API takes: 25 MB for images and audio, 50 MB for video.
MAX_UPLOAD_BYTES = {"image": 25 * 1024 * 1024, "audio": 25 * 1024 * 1024, "video": 50 * 1024 * 1024}


def sniff_media(head: bytes) -> tuple[str, str] | None:
    """
    Return ``(kind, content_type)`` of a file from its first bytes.

    ``None`` if it is none of the types the API accepts: PNG, JPEG, WebP, GIF, MP4, WebM, MOV,
    MP3, WAV, OGG, M4A.

    :param head: At least the first 16 bytes of the file.
    """
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image", "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image", "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image", "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image", "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio", "audio/wav"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return "video", "video/quicktime"
        return ("audio", "audio/mp4") if brand.startswith(b"M4A") else ("video", "video/mp4")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video", "video/webm"
    if head.startswith(b"OggS"):
        return "audio", "audio/ogg"
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio", "audio/mpeg"
    return None


def image_content_type(head: bytes) -> str | None:
    """
    Return the content type of an image the API takes as input, from its first bytes, else ``None``.

    :param head: At least the first 16 bytes of the file.
    """
    sniffed = sniff_media(head)
    return sniffed[1] if sniffed and sniffed[0] == "image" else None


def kind_of(content_type: str) -> Kind:
    """
    The kind of a media type: ``image``, ``video`` or ``audio``.

    :param content_type: e.g. ``video/mp4``.
    """
    head = content_type.split("/", 1)[0]
    return head if head in ("video", "audio") else "image"  # type: ignore[return-value]


def guess_from_url(url: str) -> str | None:
    """
    The media type a URL's path names by its extension (``.../clip.mp4`` -> ``video/mp4``), else ``None``.

    Only a guess until the file's own bytes are read (:func:`sniff_media`).

    :param url: An http(s) URL.
    """
    name = urlsplit(url).path.rsplit("/", 1)[-1]
    return _BY_EXTENSION.get(name.rsplit(".", 1)[-1].lower()) if "." in name else None


def check_input_location(location: Any, *, is_path: bool) -> None:
    """
    Check that an input image is given as something storage can read, or raise ``ValueError``.

    :param location: The value given.
    :param is_path: Whether it is a string, a ``PathLike`` or an ``ObjectStoragePath``.
    """
    if not is_path:
        raise ValueError(f"got {type(location).__name__}; {INPUT_ALLOWED}")
    if not str(location).strip():
        raise ValueError(f"got an empty string; {INPUT_ALLOWED}")


def check_input_size(location: Any, size: int, kind: Kind = "image") -> None:
    """
    Check an input file's size before reading it (25 MB for images and audio, 50 MB for video).

    :param location: Where it is.
    :param size: Its size in bytes.
    :param kind: What the parameter takes: ``image``, ``video`` or ``audio``.
    :raises ValueError: It is larger than the API takes.
    """
    limit = MAX_UPLOAD_BYTES[kind]
    if size > limit:
        raise ValueError(
            f"got {str(location)!r}: {size / 2**20:.1f} MB; the API takes input {_PLURALS[kind]} of at most "
            f"{limit // 2**20} MB"
        )


def check_input_type(location: Any, data: bytes, kind: Kind = "image") -> str:
    """
    Return an input file's content type, read from its bytes; ``ValueError`` if it is not of ``kind``.

    :param location: Where it is.
    :param data: Its bytes (at least the first 16).
    :param kind: What the parameter takes: ``image``, ``video`` or ``audio``.
    """
    sniffed = sniff_media(data[:16])
    if sniffed is None or sniffed[0] != kind:
        raise ValueError(f"got {str(location)!r}, which is not {_KIND_TYPES[kind]}")
    return sniffed[1]


_PLURALS = {"image": "images", "video": "videos", "audio": "audio files"}
_KIND_TYPES = {
    "image": "a PNG, JPEG, WebP or GIF image",
    "video": "an MP4, WebM or MOV video",
    "audio": "an MP3, WAV, OGG or M4A audio file",
}


def unreadable_input(location: Any, error: BaseException | None = None) -> ValueError:
    """
    The refusal of an input image that cannot be read.

    :param location: Where it was looked for.
    :param error: Why it could not be read; ``None`` when it is not there.
    """
    if error is None:
        return ValueError(f"got {str(location)!r}, which does not exist or is not a file; {INPUT_ALLOWED}")
    return ValueError(f"got {str(location)!r} ({error}); {INPUT_ALLOWED}")
