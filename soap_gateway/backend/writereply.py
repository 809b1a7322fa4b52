"""What a write's reply must look like to be believed: a known success or a known error, nothing in between.

The decoder (codec) is lenient on purpose, for reads: a reply it cannot place
simply yields no rows.  For a write that leniency would turn ``<result>Ошибка
…</result>`` or ``<errors>1</errors><error_text>…`` into "posted".  So a
write's reply is looked at first, whatever the decoder would make of it:

- success shapes are data (``billing.write_success``): ``empty`` (no body, or
  an empty root) and ``columns`` (one row whose every element is a column the
  catalogue declares for the procedure);
- a known error is a root holding only an error element (codec.ERROR_TAGS),
  which the decoder reports as the billing's refusal;
- anything else is neither, and the write's outcome is unknown: it goes to
  reconciliation, never to "done" on a guess.
"""

from __future__ import annotations

from typing import Sequence

from lxml import etree

from ..catalogue import Procedure
from ..errors import MalformedReply
from .codec import ERROR_TAGS, sniff_encoding


def check_write_reply(proc: Procedure, body: bytes, http_charset: str | None, success: Sequence[str]) -> None:
    """Raise MalformedReply (sent: the write may have run) unless ``body`` is a known success or error."""
    shape = _shape(proc, body, http_charset)
    if shape is None or shape in success:
        return
    excerpt = body[:160].decode(http_charset or "cp1251", "replace").strip()
    raise MalformedReply(detail=f"the reply to {proc.name} is neither a known success ({', '.join(success)}) "
                                f"nor a known error ({shape}): {excerpt!r}", sent=True)


def _shape(proc: Procedure, body: bytes, http_charset: str | None) -> str | None:
    """The reply's shape name; None for a known error or a document the decoder itself refuses."""
    text = body.strip()
    if not text:
        return "empty"
    encoding = sniff_encoding(text[:256], http_charset)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                             remove_comments=True, remove_pis=True, encoding=encoding)
    try:
        root = etree.fromstring(text, parser)
    except etree.XMLSyntaxError:
        return None  # not XML at all: the decoder reports it as a malformed reply, an unknown outcome too
    children = list(root)
    if (root.text or "").strip():
        return "text in the root element"
    if not children:
        return "empty"
    if len(children) == 1 and _local(children[0]) in ERROR_TAGS and len(children[0]) == 0:
        return None
    row = children[0] if len(children) == 1 and len(children[0]) else root
    cells = list(row)
    if any(len(cell) for cell in cells) or any((cell.tail or "").strip() for cell in cells):
        return "nested elements"
    unknown = sorted({_local(cell) for cell in cells if proc.column(_local(cell)) is None})
    if unknown:
        return f"elements the catalogue does not declare for {proc.name}: {', '.join(unknown)}"
    return "columns"


def _local(element: etree._Element) -> str:
    tag = element.tag
    return tag.rpartition("}")[2].lower() if isinstance(tag, str) else ""
