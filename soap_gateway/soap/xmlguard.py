"""The request guard: one decoding, every limit while streaming, the envelope's shape, before any tree.

The body is decoded once (decoding.py); the resulting UTF-8 is fed in slices
to libxml2 with a parser *target*, so no element is ever built: the guard
sees each start tag, namespace declaration and text run as it is parsed and
refuses the document at the first one over a limit.  Entity resolution, DTD
loading and network access are off, and a document type declaration is
refused when the parser reports it.  What passes is well-formed, within the
limits, a SOAP 1.1 envelope with no unknown ``mustUnderstand`` header and
exactly one operation element in its Body; only then does Spyne parse the
same bytes.  With at most ``max_elements`` elements and ``max_attributes_total``
attributes, the schema errors libxml2 can collect afterwards are bounded too.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from lxml import etree

from ..errors import UnreadableRequest
from .decoding import decode_request

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
_NEXT_ACTOR = "http://schemas.xmlsoap.org/soap/actor/next"
_SLICE = 1 << 16
_PER_THREAD = threading.local()
# A start tag with more than N well-formed attributes (namespace declarations included).  libxml2
# reads a whole start tag before it reports it, and lxml hands it over as a dict: 60,000
# attributes cost ≈14 MiB before the guard could count them, so they are counted first, in C.
# The pattern cannot backtrack far: a name holds no space or '=', a value no quote of its kind or '<'.
_ATTRIBUTE = rb"""\s+[^\s<>="']+\s*=\s*(?:"[^"<]*"|'[^'<]*')"""


@dataclass(frozen=True)
class Limits:
    max_depth: int = 32
    max_elements: int = 1000
    max_attributes: int = 32  # on one element, namespace declarations included
    max_attributes_total: int = 256
    max_text_chars: int = 65536  # one text run, attribute value or namespace name
    max_name_chars: int = 256  # an element's or attribute's local name, a prefix, a namespace name

    @classmethod
    def of(cls, server: Any) -> Limits:
        return cls(**{name: getattr(server, name) for name in cls.__dataclass_fields__})


def _limit(message: str) -> UnreadableRequest:
    return UnreadableRequest("XML_LIMIT_EXCEEDED", message)


def _envelope(message: str) -> UnreadableRequest:
    return UnreadableRequest("INVALID_ENVELOPE", message)


def _dtd() -> UnreadableRequest:
    return UnreadableRequest("DTD_NOT_ALLOWED", "a SOAP message must not contain a document type declaration")


def _recording(callback: Callable[..., None]) -> Callable[..., None]:
    """A parser callback that records its refusal (and does nothing once one is recorded)."""
    def recorded(watch: _Watch, *args: Any) -> None:
        if watch.refused is None:
            try:
                callback(watch, *args)
            except UnreadableRequest as refused:
                watch.refused = refused
    return recorded


class _Watch:
    """The parser target: counts and checks as libxml2 reports, keeps nothing."""

    def __init__(self) -> None:
        self.reset(Limits())

    def reset(self, limits: Limits, larger: Mapping[str, Limits] | None = None) -> None:
        self.limits = limits
        self.larger = larger or {}
        self.depth = self.elements = self.attributes = self.pending_namespaces = 0
        self.text = 0
        self.path: list[str] = []  # the open elements' tags, at most max_depth
        self.operations = 0
        self.body_seen = self.header_seen = False
        # The first refusal.  lxml keeps an exception raised in a callback until close() and calls
        # the target's close() first, so callbacks record instead of raising, and the guard stops
        # feeding after the current slice.
        self.refused: UnreadableRequest | None = None
        self.closing = False

    # -- what libxml2 reports ---------------------------------------------------------------------

    @_recording
    def doctype(self, *_: Any) -> None:
        raise _dtd()

    @_recording
    def pi(self, *_: Any) -> None:
        raise _envelope("a SOAP message must not contain processing instructions")

    @_recording
    def comment(self, text: str) -> None:
        self._text(text)

    @_recording
    def start_ns(self, prefix: str | None, uri: str) -> None:
        self._name(prefix or "")
        self._namespace(uri)
        self.pending_namespaces += 1

    @_recording
    def start(self, tag: str, attrib: Any, nsmap: Any = None) -> None:
        limits = self.limits
        self.depth += 1
        self.elements += 1
        self.text = 0
        if self.depth > limits.max_depth:
            raise _limit(f"the XML nests deeper than {limits.max_depth} elements")
        if self.elements > limits.max_elements:
            raise _limit(f"the XML holds more than {limits.max_elements} elements")
        count = len(attrib) + self.pending_namespaces
        self.pending_namespaces = 0
        self.attributes += count
        if count > limits.max_attributes:
            raise _limit(f"an element carries more than {limits.max_attributes} attributes")
        if self.attributes > limits.max_attributes_total:
            raise _limit(f"the XML carries more than {limits.max_attributes_total} attributes")
        self._name(tag)
        for name, value in attrib.items():
            self._name(name)
            self._value(value)
        self.path.append(tag)
        self._shape(tag, attrib)

    @_recording
    def end(self, tag: str) -> None:
        self.depth -= 1
        self.text = 0
        self.path.pop()

    @_recording
    def data(self, text: str) -> None:
        if not text.strip():
            return  # layout between elements, bounded by the body's size; a value is what is limited
        self._text(text)
        if self.depth in (1, 2) and self.path[-1] in (f"{{{SOAP11}}}Envelope", f"{{{SOAP11}}}Body"):
            raise _envelope(f"text directly inside the {self.path[-1].split('}')[1]} element")

    @_recording
    def close(self) -> None:
        self.closing = True  # libxml2 may still find the document unfinished: that error comes first
        if not self.body_seen:
            raise _envelope("the envelope has no Body")
        if self.operations == 0:
            raise _envelope("the Body holds no operation element")

    # -- checks -----------------------------------------------------------------------------------

    def _text(self, text: str) -> None:
        self.text += len(text)
        if self.text > self.limits.max_text_chars:
            raise _limit(f"a text holds more than {self.limits.max_text_chars} characters")

    def _value(self, value: str) -> None:
        if len(value) > self.limits.max_text_chars:
            raise _limit(f"a value holds more than {self.limits.max_text_chars} characters")

    def _name(self, name: str) -> None:
        namespace, _, local = name.rpartition("}")
        if len(local) > self.limits.max_name_chars:
            raise _limit(f"a name is longer than {self.limits.max_name_chars} characters")
        self._namespace(namespace)

    def _namespace(self, uri: str) -> None:
        # libxml2 keeps every name and namespace it has seen for the thread's lifetime (lxml's
        # per-thread dictionary): names are short so that a request adds little to it.
        if len(uri) > self.limits.max_name_chars + 1:  # + the "{" of a tag
            raise _limit(f"a namespace name is longer than {self.limits.max_name_chars} characters")

    def _shape(self, tag: str, attrib: Any) -> None:
        """The envelope's outline: SOAP 1.1, headers understood, one operation in the Body."""
        if self.depth == 1:
            if tag == f"{{{SOAP11}}}Envelope":
                return
            if tag.rpartition("}")[2] == "Envelope":  # SOAP 1.1 §4.4: a wrong namespace is a VersionMismatch
                raise UnreadableRequest("VERSION_MISMATCH",
                                        "this service speaks SOAP 1.1 only: use the namespace " + SOAP11
                                        + (" (a SOAP 1.2 envelope was sent)" if tag == f"{{{SOAP12}}}Envelope"
                                           else ""))
            raise _envelope("the document is not a SOAP envelope")
        if self.depth == 2:
            if tag == f"{{{SOAP11}}}Header" and not (self.header_seen or self.body_seen):
                self.header_seen = True
            elif tag == f"{{{SOAP11}}}Body" and not self.body_seen:
                self.body_seen = True
            else:
                raise _envelope("the envelope holds one optional Header, then one Body, and nothing else")
            return
        if self.depth != 3:
            return
        if self.path[1] == f"{{{SOAP11}}}Header":
            must = attrib.get(f"{{{SOAP11}}}mustUnderstand", "0").strip() in ("1", "true")
            actor = attrib.get(f"{{{SOAP11}}}actor", _NEXT_ACTOR)
            if must and actor == _NEXT_ACTOR:  # this service understands no header
                raise UnreadableRequest("MUST_UNDERSTAND",
                                        f"the header {etree.QName(tag).localname} must be understood, and it is not")
            return
        if tag == f"{{{SOAP11}}}Fault":
            raise _envelope("a Fault is not a request: the Body must hold an operation element")
        self.operations += 1
        if self.operations > 1:
            raise _envelope("the Body must hold exactly one operation element; it holds more")
        # an operation allowed more (a batch of lines) is counted by its own limits from here on
        self.limits = self.larger.get(tag.rpartition("}")[2], self.limits)


def _recoverable_errors(parser: etree.XMLParser) -> None:
    """Errors libxml2 reports but goes on after (an unbound prefix): Spyne's parser refuses them."""
    errors = parser.feed_error_log.filter_from_errors()
    if errors:
        raise UnreadableRequest("XML_SYNTAX_ERROR", f"the body is not well-formed XML: "
                                f"{errors[0].message}, line {errors[0].line}, column {errors[0].column}")


def guard_request(body: bytes, content_type: str, limits: Limits, larger: Mapping[str, Limits] | None = None) -> bytes:
    """The body as Spyne must parse it (UTF-8, no declaration), or ``UnreadableRequest`` saying why not.

    ``larger``: operations (by local name) whose requests are checked against larger limits once
    their element is seen, such as a batch of lines.
    """
    if not body.strip():
        raise UnreadableRequest("XML_SYNTAX_ERROR", "the request body is empty")
    text = decode_request(body, content_type)
    if text.count(b"=") > limits.max_attributes and \
            re.search(rb"<[^\s<>/!?]+(?:%s){%d}" % (_ATTRIBUTE, limits.max_attributes + 1), text):
        raise _limit(f"an element carries more than {limits.max_attributes} attributes")
    parser, watch = _parser(limits, larger)
    closed = False
    try:
        for start in range(0, len(text), _SLICE):
            parser.feed(text[start:start + _SLICE])
            if watch.refused is None:
                _recoverable_errors(parser)
            if watch.refused is not None:
                break
        else:
            closed = True
            parser.close()
            _recoverable_errors(parser)
    except etree.XMLSyntaxError as exc:
        closed = True
        if watch.refused is not None and not watch.closing:
            raise watch.refused from None
        # a DTD may fail to parse before libxml2 reports it (an entity it will not define)
        if b"<!DOCTYPE" in text or b"<!ENTITY" in text:
            raise _dtd() from None
        raise UnreadableRequest("XML_SYNTAX_ERROR", f"the body is not well-formed XML: {exc.msg}") from None
    finally:
        if not closed:  # a refusal stopped the feeding: end that document so the parser can be reused
            try:
                parser.close()
            except etree.XMLSyntaxError:
                pass
    if watch.refused is not None:
        raise watch.refused
    return text


def _parser(limits: Limits, larger: Mapping[str, Limits] | None = None) -> tuple[etree.XMLParser, _Watch]:
    """This thread's parser and its target, reset: lxml inspects a target's methods each time a parser
    is made, which cost more than the whole check of a usual request."""
    made = getattr(_PER_THREAD, "parser", None)
    if made is None:
        watch = _Watch()
        made = _PER_THREAD.parser = (etree.XMLParser(target=watch, encoding="utf-8", resolve_entities=False,
                                                     load_dtd=False, no_network=True, huge_tree=False), watch)
    made[1].reset(limits, larger)
    return made
