"""Pictures made safe to show: fully decoded under a pixel limit, then written back clean.

PNG is re-encoded by Pillow from its pixels (first frame of an animation; unusual modes turned
into RGB(A) or L; no text, EXIF, ICC or other chunks). JPEG is not re-encoded when it need not
be: re-encoding is lossy, so a picture that goes Word → import → Word export → import would
lose quality and change its bytes (and its content-hash name) on every trip. A plain JPEG
(baseline or progressive Huffman, grey or YCbCr, upright) is rewritten segment by segment to
what a decoder needs (quantisation and Huffman tables, frame, scans), dropping EXIF, XMP, ICC,
comments and anything after the end marker, like `jpegtran -copy none`. Any other JPEG (CMYK,
arithmetic coding, rotated by EXIF, unknown segments) is decoded, turned upright and re-encoded
once; its output is then plain, so cleaning is idempotent either way.
"""

from __future__ import annotations

import io
import struct

from PIL import Image, ImageOps, UnidentifiedImageError

from zhengai_docs.attachments.refusal import MEDIA_TYPES, Inspected, UploadRefused

MAX_PIXELS = 40_000_000  # e.g. 8000 × 5000: any photo or scan; 160 MB as RGBA while decoded
_JPEG_QUALITY = 90
_PLAIN_MODES = {"1", "L", "LA", "P", "RGB", "RGBA"}
_KEPT_SEGMENTS = {0xDB, 0xC4, 0xC0, 0xC1, 0xC2, 0xDD}  # DQT, DHT, SOF0-2, DRI (SOS handled apart)
_DROPPED_SEGMENTS = {0xFE, *range(0xE1, 0xF0)}  # COM, APP1-APP15 (EXIF, XMP, ICC, Photoshop …)
_EXIF_ORIENTATION = 0x0112


def clean_image(data: bytes, *, name: str) -> Inspected:
    """The picture's bytes as they will be stored; UploadRefused for a damaged or oversized one."""
    image = _decode(data, name=name)
    if image.format == "PNG":
        return Inspected(suffix=".png", media_type=MEDIA_TYPES[".png"], data=_png(image))
    if image.format != "JPEG":
        raise UploadRefused(f"“{name}”不是 PNG 或 JPG 图片，未上传。")
    plain = _plain_jpeg(data) if _is_plain_jpeg(image) else None
    if plain is not None:
        _decode(plain, name=name)  # what is stored decodes on its own
        return Inspected(suffix=".jpg", media_type=MEDIA_TYPES[".jpg"], data=plain)
    return Inspected(suffix=".jpg", media_type=MEDIA_TYPES[".jpg"], data=_jpeg(image))


def _decode(data: bytes, *, name: str) -> Image.Image:
    """The whole picture decoded; refuses before decoding when it has too many pixels."""
    try:
        image = Image.open(io.BytesIO(data), formats=("PNG", "JPEG"))
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise UploadRefused(
                f"“{name}”有 {width}×{height} 像素，超过上限 {MAX_PIXELS // 1_000_000} 百万像素（疑似“像素炸弹”），未上传。请缩小后再上传。"
            )
        image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UploadRefused(f"“{name}”的像素数过多（疑似“像素炸弹”），未上传。请缩小后再上传。") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error, EOFError) as exc:
        raise UploadRefused(f"“{name}”的图片数据已损坏或不完整，无法读取，未上传。") from exc
    return image


def _png(image: Image.Image) -> bytes:
    frame = image.copy()  # the first frame of an animated PNG; copy() drops the file's chunks
    transparent = "transparency" in image.info
    if frame.mode not in _PLAIN_MODES or (transparent and frame.mode != "RGBA"):
        frame = frame.convert("RGBA" if transparent or "A" in frame.mode else ("L" if frame.mode.startswith("I") else "RGB"))
    frame.info = {}
    out = io.BytesIO()
    frame.save(out, format="PNG")
    return out.getvalue()


def _jpeg(image: Image.Image) -> bytes:
    upright = ImageOps.exif_transpose(image) or image
    if upright.mode not in ("L", "RGB"):
        upright = upright.convert("RGB")
    upright.info = {}
    out = io.BytesIO()
    upright.save(out, format="JPEG", quality=_JPEG_QUALITY)
    return out.getvalue()


def _is_plain_jpeg(image: Image.Image) -> bool:
    orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
    return image.mode in ("L", "RGB") and orientation in (1, None) and "adobe" not in image.info


def _plain_jpeg(data: bytes) -> bytes | None:
    """The JPEG with only the segments a decoder needs, or None when it has anything unusual."""
    out = [b"\xff\xd8"]
    position = 2
    size = len(data)
    while position < size:
        if data[position] != 0xFF:
            return None
        while position < size and data[position] == 0xFF:
            position += 1  # fill bytes
        if position >= size:
            return None
        marker = data[position]
        position += 1
        if marker == 0xD9:  # EOI: whatever follows is dropped
            out.append(b"\xff\xd9")
            return b"".join(out)
        if position + 2 > size:
            return None
        (length,) = struct.unpack(">H", data[position : position + 2])
        end = position + length
        if length < 2 or end > size:
            return None
        segment = data[position - 2 : end]
        position = end
        if marker == 0xE0:
            if data[position - length + 2 : position - length + 7] == b"JFIF\x00":
                out.append(segment)
        elif marker in _DROPPED_SEGMENTS:
            continue
        elif marker in _KEPT_SEGMENTS:
            out.append(segment)
        elif marker == 0xDA:  # a scan: the header, then entropy-coded data up to the next marker
            scan_end = _scan_end(data, position)
            if scan_end is None:
                return None
            out.append(segment)
            out.append(data[position:scan_end])
            position = scan_end
        else:
            return None
    return None


def _scan_end(data: bytes, start: int) -> int | None:
    """Where the entropy-coded data after a scan header ends (a 0xFF not followed by 0x00 or RSTn)."""
    position = start
    while True:
        position = data.find(b"\xff", position)
        if position < 0 or position + 1 >= len(data):
            return None
        following = data[position + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
            position += 1 if following == 0xFF else 2
            continue
        return position
