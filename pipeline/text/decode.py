"""Step 1 of the transcripts: a file's bytes to text (see :mod:`pipeline.text.corpus` for the steps).

:func:`decode_transcript` reads a file's bytes: ``.docx`` through python-docx (paragraphs
joined with "\\n"), text by strict decoding only: a BOM (UTF-8, UTF-16), else UTF-8, else
GB18030 (the superset of GBK). A file that is damaged UTF-8, or whose GB18030 reading is not
plausible Chinese (e.g. Big5), is not decoded at all: it is skipped with the reason, never
turned into mojibake. Full-width digits and Latin letters become ASCII (one character for
one, so offsets do not move); CRLF becomes LF.
"""
from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

TEXT_SUFFIXES = {".txt", ".text"}
DOCX_SUFFIXES = {".docx"}
MIN_COMMON_HAN = 0.85                       # GB18030 reading: share of Han characters in GB2312
MAX_CONTROL_SHARE = 0.01                    # decoded text: share of control characters (binary file)
MAX_MOJIBAKE_SHARE = 0.5                    # decoded text: share of its non-ASCII characters that are mojibake
FULLWIDTH_ALNUM = {c: c - 0xFEE0 for c in [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B)]}
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")


class Unusable(Exception):
    """A transcript that cannot be used: ``code`` (for counting) and ``reason`` (no personal data)."""

    def __init__(self, code: str, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str        # utf-8, utf-8-sig, utf-16, gbk, gb18030, docx
    format: str          # txt | docx


_UTF8_SEQ = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


def _common_han_share(text: str) -> float:
    """Share of Han characters that are in GB2312 (the 6,763 common ones); 1.0 without Han."""
    han = [c for c in text if "\u4e00" <= c <= "\u9fff"]
    if not han:
        return 1.0
    common = 0
    for c in han:
        try:
            c.encode("gb2312")
            common += 1
        except UnicodeEncodeError:
            pass
    return common / len(han)


def decode_transcript(name: str, data: bytes) -> Decoded:
    """The text of a transcript file, decoded strictly; raises :class:`Unusable` otherwise."""
    suffix = Path(name).suffix.lower()
    if suffix in DOCX_SUFFIXES:
        text, encoding, fmt = _read_docx(data), "docx", "docx"
    elif suffix in TEXT_SUFFIXES:
        text, encoding = _decode_text(data)
        fmt = "txt"
    elif suffix == ".doc":
        raise Unusable("unsupported_format", "a Word 97-2003 .doc file: save it as .docx")
    else:
        shown = suffix if re.fullmatch(r"\.[a-z0-9]{1,5}", suffix) else "no extension" if not suffix else \
            "an unusual extension"             # a long 'extension' is part of a name that may hold personal data
        raise Unusable("unsupported_format", f"not a transcript format ({shown}): use .txt or .docx")
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(FULLWIDTH_ALNUM)
    if text.startswith("\ufeff"):
        text = text[1:]
    controls = len(CONTROL_CHARS.findall(text))
    if text and controls > MAX_CONTROL_SHARE * len(text):
        raise Unusable("undecodable", "binary content (control characters), not a text transcript")
    if not text.strip():
        raise Unusable("empty", "empty transcript (no text)")
    if mojibake_share(text) >= MAX_MOJIBAKE_SHARE:
        raise Unusable("undecodable", "mojibake: Chinese text that was once read in the wrong encoding (UTF-8 as GBK) "
                                      "and saved so; use the original file")
    return Decoded(text=text, encoding=encoding, format=fmt)


def mojibake_share(text: str) -> float:
    """The share of the text's non-ASCII characters that are mojibake of UTF-8 read as GBK (a
    file decoded wrongly once and saved: 鎴戝彨 for 我叫): runs of non-ASCII characters whose GB18030
    bytes, read as UTF-8, are mostly Chinese (at least one Han character for every two of the run:
    a Han character in UTF-8 is three bytes, a GBK character two). Real Chinese text in GBK does
    not read as Chinese in UTF-8 (its lead bytes B0-F7 are no UTF-8 lead of a Han character
    followed by two continuation bytes), so its share is 0 or near it."""
    total = hit = 0
    for run in NON_ASCII_RUN.findall(text):
        total += len(run)
        fixed = run.encode("gb18030", errors="replace").decode("utf-8", errors="replace")
        if 2 * sum("\u4e00" <= c <= "\u9fff" for c in fixed) >= len(run):
            hit += len(run)
    return hit / total if total else 0.0


def _decode_text(data: bytes) -> tuple[str, str]:
    if not data:
        raise Unusable("empty", "empty transcript (0 bytes)")
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise Unusable("undecodable", f"UTF-8 with BOM but invalid at byte {exc.start + 3}") from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise Unusable("undecodable", f"UTF-16 (BOM) but invalid at byte {exc.start}") from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    high = sum(1 for b in data if b >= 0x80)
    in_utf8 = sum(len(m) for m in _UTF8_SEQ.findall(data))
    if high and in_utf8 >= 0.5 * high:
        raise Unusable("undecodable", f"damaged UTF-8 (invalid byte at {first_bad}); not decoded as GBK to avoid mojibake")
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise Unusable("undecodable", f"neither UTF-8 (byte {first_bad}) nor GBK/GB18030 (byte {exc.start})") from None
    if _common_han_share(text) < MIN_COMMON_HAN:
        raise Unusable("undecodable", "not UTF-8, and its GBK/GB18030 reading is not plausible Chinese (another encoding?)")
    try:
        data.decode("gbk")
        return text, "gbk"
    except UnicodeDecodeError:
        return text, "gb18030"


def _read_docx(data: bytes) -> str:
    if not data:
        raise Unusable("empty", "empty transcript (0 bytes)")
    import docx  # python-docx: imported here, only .docx files need it
    from docx.opc.exceptions import PackageNotFoundError
    from lxml.etree import LxmlError

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, LxmlError) as exc:
        raise Unusable("unreadable_docx", f"not a readable .docx file ({exc.__class__.__name__})") from None
    return "\n".join(p.text for p in document.paragraphs)
