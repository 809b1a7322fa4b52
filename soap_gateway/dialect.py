"""What ``soap-gateway check`` finds out about a billing's protocol variations, and the settings it needs.

The vendor page leaves a few things open that installations (and public client code) disagree on: whether a
list procedure answers ``cmd=execute`` or only ``cmd=select``, how many arguments CLN_USR_FIND_2 takes (an
older installation lacks the last one), and which character set the arguments must be sent in.  Each read
procedure is called with harmless arguments (ids of -1, so lists come back empty) in each variant until one
is answered; an argument charset is recognised by a Cyrillic search ("ов") by subscriber name (the catalogue's
read with an argument and a column of role "name") whose rows must contain it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .backend import BillingClient
from .catalogue import Procedure, load_catalogue
from .catalogue.types import Integer, Text
from .config import BillingSettings
from .errors import BillingError, BillingRefused, MalformedReply

# The search by name: the read whose argument and reply column have role = "name" in the catalogue
SEARCH_TEXT = "ов"
SEARCH_ROWS = 20  # rows read from the search before it is closed: enough to judge, harmless to a big billing
CHARSETS = ("utf-8", "windows-1251")


@dataclass
class Finding:
    procedure: str
    command: str = ""  # "" when no variant was answered
    arg_count: int = 0
    full_count: int = 0
    problem: str = ""


@dataclass
class Recommendation:
    findings: list[Finding] = field(default_factory=list)
    arg_charset: str = ""  # "" when the search could not tell
    charset_note: str = ""

    @property
    def select_procedures(self) -> list[str]:
        return [f.procedure for f in self.findings if f.command == "select"]

    @property
    def arg_counts(self) -> dict[str, int]:
        return {f.procedure: f.arg_count for f in self.findings if f.command and f.arg_count != f.full_count}

    @property
    def complete(self) -> bool:
        return all(f.command for f in self.findings)

    def differs(self, settings: BillingSettings) -> list[str]:
        """The settings that must change, as ``key`` names."""
        changed = []
        if sorted(self.select_procedures) != sorted(n.upper() for n in settings.select_procedures):
            changed.append("select_procedures")
        if any(settings.arg_counts.get(name) != count for name, count in self.arg_counts.items()) or any(
                name not in self.arg_counts for name in settings.arg_counts if name in self.probed):
            changed.append("arg_counts")
        if self.arg_charset and self.arg_charset != settings.arg_charset:
            changed.append("arg_charset")
        return changed

    @property
    def probed(self) -> set[str]:
        return {f.procedure for f in self.findings}

    def toml(self, settings: BillingSettings) -> str:
        """The [billing] lines to use: these settings as found, the others as configured."""
        counts = {**{k: v for k, v in settings.arg_counts.items() if k not in self.probed}, **self.arg_counts}
        lines = ["[billing]",
                 "select_procedures = [" + ", ".join(f'"{n}"' for n in self.select_procedures) + "]",
                 "arg_counts = {" + ", ".join(f" {k} = {v}" for k, v in sorted(counts.items())) + (" }" if counts else "}"),
                 f'arg_charset = "{self.arg_charset or settings.arg_charset}"']
        return "\n".join(lines)


def probe(settings: BillingSettings, client: BillingClient) -> Recommendation:
    """Call every read procedure of the catalogue in the variants above; no write is ever sent."""
    full = load_catalogue(settings.catalogue_files, {})
    # one billing session for every variant (none in one-step login mode: each call logs in)
    suid = client.login(client.service_account) if settings.login_mode == "session" else None
    result = Recommendation()
    for proc in full.values():
        if proc.mode == "read":
            result.findings.append(_probe_one(settings, client, proc, suid))
    by_name = next((p for p in full.values() if p.mode == "read" and p.argument("name") and p.role_column("name")),
                   None)
    search = next((f for f in result.findings if by_name is not None and f.procedure == by_name.name and f.command),
                  None)
    if by_name is not None and search is not None:
        result.arg_charset, result.charset_note = _probe_charset(settings, client, by_name, search, suid)
    else:
        result.charset_note = "no search by name answered (catalogue role \"name\"); keep the configured charset"
    return result


def _variant(settings: BillingSettings, client: BillingClient, **changes: Any) -> BillingClient:
    """A client with other dialect settings over the same connection pool."""
    varied = dataclasses.replace(settings, read_retries=0, **changes)
    return BillingClient(varied, load_catalogue(varied.catalogue_files, varied.arg_counts), client.transport)


def _harmless(proc: Procedure) -> dict[str, Any]:
    """Required arguments -1 (or "-"), or else the first integer filter -1 (an id no record has); all else null."""
    required = {a.name: -1 if isinstance(a.type, Integer) else "-" for a in proc.params
                if a.required and isinstance(a.type, (Integer, Text))}
    if required:
        return required
    integers = [a.name for a in proc.params if isinstance(a.type, Integer) and not a.choices]
    return {integers[0]: -1} if integers else {}


def _probe_one(settings: BillingSettings, client: BillingClient, proc: Procedure, suid: str | None) -> Finding:
    full, harmless = len(proc.args), _harmless(proc)
    last = proc.args[-1] if proc.args else None
    # an older installation may lack the last argument (CLN_USR_FIND_2 without NAS_IP)
    shorter = last is not None and not last.required and not last.fixed and last.name not in harmless
    counts = [full, full - 1] if shorter else [full]
    finding = Finding(proc.name, full_count=full)
    problems = []
    for command in ("execute", "select"):
        for count in counts:
            select = [proc.name] if command == "select" else []
            variant = _variant(settings, client, select_procedures=tuple(select),
                               arg_counts={**settings.arg_counts, proc.name: count})
            try:
                variant.call(proc.name, harmless, suid=suid)
            except BillingRefused:
                pass  # it ran, and refused the id: this variant is understood
            except (BillingError, MalformedReply) as exc:
                problems.append(f"cmd={command} with {count} arguments: {getattr(exc, 'billing_message', exc)}")
                continue
            finding.command, finding.arg_count = command, count
            return finding
    finding.problem = "; ".join(problems)
    return finding


def _probe_charset(settings: BillingSettings, client: BillingClient, proc: Procedure, search: Finding,
                   suid: str | None) -> tuple[str, str]:
    argument, column = proc.argument("name"), proc.role_column("name")
    assert argument is not None and column is not None
    seen = {}
    for charset in CHARSETS:
        variant = _variant(settings, client, arg_charset=charset,
                           select_procedures=(proc.name,) if search.command == "select" else (),
                           arg_counts={**settings.arg_counts, proc.name: search.arg_count})
        names = []
        with variant.stream(proc.name, {argument.name: SEARCH_TEXT}, suid=suid) as rows:
            for row in rows:
                names.append(str(row.get(column.name) or ""))
                if len(names) >= SEARCH_ROWS:
                    break
        seen[charset] = names
        if names and all(SEARCH_TEXT in n.lower() for n in names):
            return charset, f"a search for {SEARCH_TEXT!r} sent in {charset} found {len(names)}+ matching names"
    return "", (f"a search for {SEARCH_TEXT!r} found no matching names in either charset "
                f"({', '.join(f'{c}: {len(n)} rows' for c, n in seen.items())}); keep the configured one")
