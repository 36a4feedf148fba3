"""What an uploaded file really is, decided by its content, and whether a reader may have it.

The name a browser sends is a claim, not a fact: the type comes from the bytes (PNG, JPEG,
`%PDF-`, an Office zip whose `[Content_Types].xml` names a Word or Excel main part), and the
name's suffix must agree with it, so a program renamed `申报表.docx` is refused. Then each kind
is checked for what could hurt the reader who opens it:

- Office files (`office.py`): the zip's layout must be exactly its entries, end to end (no
  hidden or overlapping data: polyglots and overlapping-entry zip bombs), with few members, no
  path tricks, no encryption, no nested archives, declared sizes and ratios within limits, and
  every member inflated once under a byte budget to prove the declarations; no macros
  (vbaProject, macro-enabled types) and no ActiveX.
- PDF (`pdf.py`): refused, not rewritten, when it carries JavaScript, launch or embedded-file
  actions, additional actions or XFA forms. Rewriting a PDF to strip them would break the
  signature of a signed PDF (and a cleaner that misses one place is worse than a refusal);
  the message tells the clerk to print it to PDF again.
- Pictures (`images.py`): decoded in full by Pillow under a pixel limit, then re-encoded
  without metadata (PNG), or for JPEG rewritten to the segments a decoder needs (EXIF, XMP,
  ICC, comments and trailing bytes dropped), so the same picture always gives the same bytes.

Every refusal is an `UploadRefused` whose message (Chinese) names the file and the reason;
nothing is written before `inspect_upload` returns.
"""

from __future__ import annotations

from zhengai_docs.attachments import images, office, pdf, sniff
from zhengai_docs.attachments.refusal import (
    KIND_NAMES,
    MEDIA_TYPES,
    SUFFIX_ALIASES,
    Inspected,
    UploadRefused,
    claimed_suffix,
    display_name,
    megabytes,
)

__all__ = ["MEDIA_TYPES", "Inspected", "UploadRefused", "inspect_image", "inspect_upload"]


def inspect_upload(data: bytes, *, filename: str, allowed: frozenset[str], max_bytes: int) -> Inspected:
    """Accept an upload whose content is one of the `allowed` suffixes (".docx", ".pdf" …), matches
    its name's suffix and carries nothing active; UploadRefused otherwise."""
    name = display_name(filename)
    allowed = frozenset(SUFFIX_ALIASES.get(s.lower(), s.lower()) for s in allowed)
    if not data:
        raise UploadRefused(f"“{name}”是空文件（0 字节），未上传。请检查文件后重新选择。")
    if len(data) > max_bytes:
        raise UploadRefused(f"“{name}”有 {megabytes(len(data))} MB，超过附件大小上限 {megabytes(max_bytes)} MB，未上传。", status=413)
    kind = sniff.content_kind(data, name=name)
    claimed = claimed_suffix(filename)
    if kind == ".zip":
        kind = office.office_kind(data, name=name)
    if claimed != kind:
        said = f"扩展名是 {claimed}" if claimed else "文件名没有扩展名"
        raise UploadRefused(f"“{name}”的{said}，但内容是{KIND_NAMES[kind]}，两者不符，未上传。请使用原始文件，不要修改扩展名。")
    if kind not in allowed:
        listed = "、".join(sorted(allowed)) or "（无）"
        raise UploadRefused(f"“{name}”是{KIND_NAMES[kind]}，不是允许的附件类型（允许：{listed}），未上传。")
    if kind in (".png", ".jpg"):
        return images.clean_image(data, name=name)
    if kind == ".pdf":
        pdf.check_pdf(data, name=name)
    else:
        office.check_office(data, name=name, kind=kind)
    return Inspected(suffix=kind, media_type=MEDIA_TYPES[kind], data=data)


def inspect_image(data: bytes, *, max_bytes: int, filename: str = "图片") -> Inspected:
    """A picture for a document body: PNG or JPEG only, decoded under the pixel limit and
    re-encoded without metadata; UploadRefused otherwise (an SVG is told to upload PNG/JPG)."""
    name = display_name(filename)
    if not data:
        raise UploadRefused(f"“{name}”是空文件（0 字节），未上传。")
    if len(data) > max_bytes:
        raise UploadRefused(f"“{name}”有 {megabytes(len(data))} MB，超过图片大小上限 {megabytes(max_bytes)} MB，未上传。", status=413)
    kind = sniff.content_kind(data, name=name)
    if kind not in (".png", ".jpg"):
        raise UploadRefused(f"“{name}”是{KIND_NAMES.get(kind, '其他格式的文件')}，不是图片。正文中的图片只接受 PNG 或 JPG 格式。")
    return images.clean_image(data, name=name)
