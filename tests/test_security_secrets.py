"""No secret anywhere: a full end-to-end run with known secrets, every log record and every reply captured.

Secrets: the billing service account's password, the client .pfx password,
every SUID the emulator issued, a gateway user's password (and a wrong guess),
a pass-through cashier's password, switch passwords sent and stored, and the
subscribers' secret columns.  Every logger is turned up to DEBUG (spyne,
urllib3 and ours included) and the process's stdout/stderr are captured too.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from decimal import Decimal
from typing import Any

import pytest
import requests
import zeep
from lxml import etree

from securing import auth_from_toml, post, secured_gateway, soap_client
from soap_gateway.certs import create_client_pfx
from soap_gateway.security.passwords import hash_password

SERVICE = ("api-svc", "Bill1ng-Secr3t-PW")
PFX_PASSWORD = "Pfx7Leak7Secret"  # latin letters and digits, as the billing makes them
CASHIER = ("kassir9", "Kassir9-Secret-PW")
GATEWAY_USER = ("integrator", "Gw-User-Secret9")
WRONG_GUESS = "Wrong-Guess-Secret"
SWITCH_PASSWORDS = {"PSW_SNMP": "Snmp-Leak-Check1", "PSW_SSH": "Ssh-Leak-Check2", "PSW_TELNET": "Tel-Leak-Check3"}
TOO_LONG_PASSWORD = "Overlong-Ssh-Secret-" + "q" * 25  # 45 > VARCHAR(40)


def _all_loggers_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        caplog.set_level(logging.DEBUG, logger=name)
    for name in ("spyne", "urllib3", "requests", "zeep", "soap_gateway"):
        caplog.set_level(logging.DEBUG, logger=name)


def _record_text(record: logging.LogRecord) -> str:
    parts = [record.getMessage(), repr(record.args), repr({k: v for k, v in vars(record).items()
                                                         if k not in ("exc_info", "args", "msg")})]
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(parts)


class _Recorder(zeep.Plugin):
    """Keeps the text of every envelope zeep receives, faults included."""

    def __init__(self, seen: list[str]) -> None:
        self.seen = seen

    def ingress(self, envelope: Any, http_headers: Any, operation: Any) -> Any:
        self.seen.append(etree.tostring(envelope, encoding="unicode"))
        return envelope, http_headers


def _scenario(gateway_settings: Any, pki: Any, emulator: Any, tmp_path: Any, seen: list[str]) -> list[str]:
    """Drive every path that touches a secret; returns the texts that must stay clean."""
    auth = auth_from_toml(tmp_path, f"""
[auth]
mode = "basic"
[auth.users.{GATEWAY_USER[0]}]
password_hash = "{hash_password(GATEWAY_USER[1])}"
roles = ["admin"]
""")
    billing = dataclasses.replace(gateway_settings.billing, login=SERVICE[0], password=SERVICE[1],
                                  cert=str(create_client_pfx(pki.ca_cert, pki.ca_key, "leakcheck", tmp_path,
                                                             password=PFX_PASSWORD)),
                                  cert_password=PFX_PASSWORD, read_retries=1)
    settings = dataclasses.replace(gateway_settings, billing=billing)
    recorder = _Recorder(seen)
    faults: list[str] = []

    def attempt(call: Any) -> Any:
        try:
            return call()
        except zeep.exceptions.Fault as fault:
            detail = etree.tostring(fault.detail, encoding="unicode") if fault.detail is not None else ""
            faults.append(f"{fault.code} {fault.message} {detail}")
            return None

    with secured_gateway(settings, auth) as server:
        service = soap_client(server, *GATEWAY_USER, plugins=[recorder])
        for user_id in (101, 104, 999999):
            attempt(lambda user_id=user_id: service.CLN_USR_GET(SELECT_ID=user_id))
        added = attempt(lambda: service.CLN_SWITCH_EDIT(P_OP=1, NAME="sw-leak", IP="10.9.9.9", HOME_ID=1,
                                                        PORTS_CNT=8, **SWITCH_PASSWORDS))
        attempt(lambda: service.CLN_SWITCH_LIST())
        attempt(lambda: service.CLN_SWITCH_EDIT(P_OP=1, NAME="sw-long", PSW_SSH=TOO_LONG_PASSWORD))
        emulator.expire_sessions()
        attempt(lambda: service.CLN_SWITCH_LIST(P_ID=added.ID if added else 1))
        emulator.add_fault("malformed", proc="CLN_HOME_LIST", count=1)
        attempt(lambda: service.CLN_HOME_LIST())
        emulator.add_fault("http_error", status=500, proc="CLN_HOME_LIST", count=2)
        attempt(lambda: service.CLN_HOME_LIST())
        attempt(lambda: service.CLN_AUTH_LOGIN(LOGIN=CASHIER[0], PASSWORD=WRONG_GUESS))
        login = attempt(lambda: service.CLN_AUTH_LOGIN(LOGIN=CASHIER[0], PASSWORD=CASHIER[1]))
        if added:
            attempt(lambda: service.CLN_SWITCH_EDIT(P_OP=2, ID=added.ID))
        attempt(lambda: service.CLN_FIN_OPER_ADD(USER_ID=104, OP_DATE=dt.datetime(2024, 5, 1, 12, 0),
                                                  SUMMA=Decimal("1.00"), NUMBER="LEAK-1"))
        seen.append(post(server, "<b:CLN_USR_GET><b:SELECT_ID>101</b:SELECT_ID></b:CLN_USR_GET>",
                         auth=(GATEWAY_USER[0], WRONG_GUESS)).text)
        seen.append(requests.get(f"{server.url}/soap?wsdl", timeout=10).text)

    passthrough = dataclasses.replace(auth, mode="pass-through", users={})
    with secured_gateway(settings, passthrough) as server:
        cashier = soap_client(server, *CASHIER, plugins=[recorder])
        attempt(lambda: cashier.CLN_USR_GET(SELECT_ID=102))
        attempt(lambda: cashier.CLN_FIN_OPER_ADD(USER_ID=104, OP_DATE=dt.datetime(2024, 5, 1, 12, 1),
                                                  SUMMA=Decimal("2.00"), NUMBER="LEAK-2"))
        seen.append(post(server, "<b:CLN_USR_GET><b:SELECT_ID>101</b:SELECT_ID></b:CLN_USR_GET>",
                         auth=(CASHIER[0], WRONG_GUESS)).text)

    from soap_gateway.backend import BillingClient

    one_step = BillingClient.from_settings(dataclasses.replace(billing, login_mode="one-step"))
    try:
        one_step.call("CLN_HOME_LIST", {"P_ID": 5})
    finally:
        one_step.close()
    assert len(faults) >= 4 and len(seen) > 10
    seen.extend(faults)
    return [str(login.SUID)] if login is not None else []


def test_no_secret_appears_in_logs_faults_or_replies(gateway_settings: Any, pki: Any, emulator: Any, tmp_path: Any,
                                                     caplog: pytest.LogCaptureFixture,
                                                     capfd: pytest.CaptureFixture[str]) -> None:
    emulator.add_account(*SERVICE)
    emulator.add_account(*CASHIER)
    _all_loggers_at_debug(caplog)
    issued_before = set(emulator.issued_suids())
    replies: list[str] = []
    own_suids = _scenario(gateway_settings, pki, emulator, tmp_path, replies)

    suids = [str(s) for s in set(emulator.issued_suids()) - issued_before]
    assert len(suids) >= 4  # service account (twice: expiry), the cashier via SOAP and via pass-through
    subscriber = {name: emulator.user(uid)[name] for uid in (101, 104) for name in ("PSW", "GEN_PWD", "AD_PASS")
                  if emulator.user(uid)[name]}
    secrets = {"billing password": SERVICE[1], "pfx password": PFX_PASSWORD,
               "gateway password": GATEWAY_USER[1], "wrong guess": WRONG_GUESS, "cashier password": CASHIER[1],
               "overlong switch password": TOO_LONG_PASSWORD, "seeded switch password": "Ssh-Tv12-secret",
               **{f"switch {k}": v for k, v in SWITCH_PASSWORDS.items()},
               **{f"subscriber {k}": v for k, v in subscriber.items()},
               **{f"SUID {s}": s for s in suids}}
    assert len(caplog.records) > 20 and any(r.name.startswith("urllib3") for r in caplog.records)
    # zeep's own DEBUG records are the test consumer's log of what it sent (the cashier's password
    # in CLN_AUTH_LOGIN): not the gateway's.
    logs = "\n".join(_record_text(r) for r in caplog.records if not r.name.startswith("zeep"))
    out, err = capfd.readouterr()
    replies_text = "\n".join(replies)
    for what, secret in secrets.items():
        assert secret not in logs, f"{what} in a log record"
        assert secret not in out and secret not in err, f"{what} on stdout/stderr"
        if secret in own_suids:
            continue  # CLN_AUTH_LOGIN returns the caller's own new session, by design
        assert secret not in replies_text, f"{what} in a reply"
