"""What a file is, from its first bytes: the API sniffs uploads the same way and ignores declared types."""

from __future__ import annotations

#: The image types the API takes as inputs, and the file extension this provider gives each.
IMAGE_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpeg", "image/webp": "webp", "image/gif": "gif"}
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
