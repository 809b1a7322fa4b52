"""A cheap streaming pre-scan of a SOAP request body, before Spyne builds a tree and validates it.

libxml2 with entity resolution, DTD loading and network access off, the
document walked as a stream and each element freed once closed: a document
type declaration (in any encoding), nesting deeper than ``max_depth`` and
more than ``max_elements`` elements are refused as soon as they are seen.
Well-formedness is left to Spyne, which reports it in its own words.
"""

from __future__ import annotations

import io
from typing import NamedTuple

from lxml import etree


class Refusal(NamedTuple):
    faultcode: str
    code: str
    message: str


EMPTY = Refusal("Client.XMLSyntaxError", "XML_SYNTAX_ERROR", "the request body is empty")
DTD = Refusal("Client.DTDNotAllowed", "DTD_NOT_ALLOWED", "a SOAP message must not contain a document type declaration")


def prescan(body: bytes, max_depth: int, max_elements: int) -> Refusal | None:
    """None when the body keeps within the limits, else why it does not."""
    if not body.strip():
        return EMPTY
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        return DTD
    depth = count = 0
    events = etree.iterparse(io.BytesIO(body), events=("start", "end"), resolve_entities=False, load_dtd=False,
                             no_network=True, huge_tree=False, remove_comments=True, remove_pis=True)
    try:
        for event, element in events:
            if event == "end":
                depth -= 1
                element.clear(keep_tail=True)
                continue
            if count == 0 and element.getroottree().docinfo.doctype:
                return DTD
            depth += 1
            count += 1
            if depth > max_depth:
                return Refusal("Client.XMLLimitExceeded", "XML_LIMIT_EXCEEDED",
                               f"the XML nests deeper than {max_depth} elements")
            if count > max_elements:
                return Refusal("Client.XMLLimitExceeded", "XML_LIMIT_EXCEEDED",
                               f"the XML holds more than {max_elements} elements")
    except etree.XMLSyntaxError:
        return None
    return None
