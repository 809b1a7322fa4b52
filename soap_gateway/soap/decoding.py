"""The one decoding of a request body, decided before anything parses it.

Three things may name the encoding: the HTTP charset, a byte order mark and
the XML declaration.  Each one present must name the same family (UTF-8,
UTF-16, or windows-1251 for old Russian clients), anything else is refused,
and the body is decoded once, strictly.  What the guard and Spyne then parse
is that text as UTF-8 without its declaration, so both see the same
characters: no parser falls back to a charset of its own.
"""

from __future__ import annotations

import codecs
import re

from ..errors import UnreadableRequest

# codec name (as codecs.lookup spells it) -> family
_FAMILIES = {"utf-8": "UTF-8", "utf-16": "UTF-16", "utf-16-le": "UTF-16", "utf-16-be": "UTF-16",
             "cp1251": "windows-1251"}
_BOMS = ((b"\xff\xfe\x00\x00", None), (b"\x00\x00\xfe\xff", None),  # UTF-32: refused
         (b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
_DECLARATION = re.compile(r"<\?xml[ \t\r\n][^<>]*?\?>")
_DECLARED = re.compile(r"""encoding[ \t\r\n]*=[ \t\r\n]*(?:"([^"]*)"|'([^']*)')""")
_CHARSET = re.compile(r"""(?:^|;)\s*charset\s*=\s*(?:"([^"]*)"|([^\s;"]*))""", re.IGNORECASE)
FORWARDED_CONTENT_TYPE = "text/xml; charset=utf-8"


def _unsupported(label: str, where: str) -> UnreadableRequest:
    return UnreadableRequest("ENCODING_NOT_SUPPORTED",
                             f"the {where} names the encoding {label[:40]!r}; send UTF-8 (or UTF-16, windows-1251)")


def _codec(label: str, where: str) -> str:
    try:
        name = codecs.lookup(label.strip()).name
    except LookupError:
        raise _unsupported(label, where) from None
    if name not in _FAMILIES:
        raise _unsupported(label, where)
    return name


def media_and_charset(content_type: str) -> tuple[str, str | None]:
    """The media type (lower case) and the charset parameter of a Content-Type, quoted or not."""
    media, _, parameters = content_type.partition(";")
    charset = _CHARSET.search(parameters)
    return media.strip().lower() or "text/xml", (charset[1] or charset[2]) if charset else None


def decode_request(body: bytes, content_type: str) -> bytes:
    """The body as UTF-8 without an XML declaration, or ``UnreadableRequest``."""
    media, charset = media_and_charset(content_type)
    if media.startswith("multipart/"):
        raise UnreadableRequest("ATTACHMENTS_NOT_SUPPORTED",
                                "MTOM and multipart requests are not accepted: this service publishes no "
                                "attachments; send a plain text/xml SOAP 1.1 envelope")
    sources: list[tuple[str, str]] = []  # (where, codec)
    if charset:
        sources.append(("HTTP charset", _codec(charset, "HTTP charset")))
    bom, bom_codec = next(((mark, name) for mark, name in _BOMS if body.startswith(mark)), (b"", None))
    if bom and bom_codec is None:
        raise _unsupported("UTF-32", "byte order mark")
    if bom_codec:
        sources.append(("byte order mark", bom_codec))
    # Without a mark, the first bytes still tell UTF-16 from the ASCII-compatible encodings.
    if bom_codec in ("utf-16-le", "utf-16-be"):
        layout = bom_codec
    else:
        layout = ("utf-16-le" if body.startswith(b"<\x00") else "utf-16-be" if body.startswith(b"\x00<") else
                  "ascii")
    head = body[len(bom):len(bom) + 400].decode("latin-1" if layout == "ascii" else layout, "ignore")
    declaration = _DECLARATION.match(head)
    declared = _DECLARED.search(declaration[0]) if declaration else None
    if declared:
        label = declared[1] if declared[1] is not None else declared[2]
        sources.append(("XML declaration", _codec(label, "XML declaration")))
    families = {_FAMILIES[name] for _, name in sources}
    if len(families) > 1:
        raise UnreadableRequest("ENCODING_MISMATCH",
                                "the encodings named disagree: " + ", ".join(f"{where} {name}" for where, name in sources))
    family = families.pop() if families else ("UTF-16" if layout != "ascii" else "UTF-8")
    if any(name in ("utf-16-le", "utf-16-be") and name != layout for _, name in sources):
        raise UnreadableRequest("ENCODING_MISMATCH", "the byte order named is not the body's")
    if (family == "UTF-16") != (layout != "ascii"):
        raise UnreadableRequest("ENCODING_MISMATCH",
                                f"the body's bytes are not {family}" + ("" if sources else " (declare its encoding)"))
    codec = layout if family == "UTF-16" else {"UTF-8": "utf-8", "windows-1251": "cp1251"}[family]
    try:
        text = body[len(bom):].decode(codec)
    except UnicodeDecodeError as exc:
        raise UnreadableRequest("XML_SYNTAX_ERROR",
                                f"the body is not valid {family} (byte {exc.start + len(bom)})") from None
    declaration = _DECLARATION.match(text)
    skip = declaration.end() if declaration else 0
    if codec == "utf-8":  # checked, and already what is wanted: no second copy
        skipped = len(text[:skip].encode("utf-8"))
        del text
        return body[len(bom) + skipped:]
    return text[skip:].encode("utf-8")
