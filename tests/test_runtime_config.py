"""Settings a running gateway needs, the example configuration in deploy/, and ``soap-gateway check``."""

from __future__ import annotations

import dataclasses
import io
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from soap_gateway.check import run_checks
from soap_gateway.config import BillingSettings, JournalSettings, ServerSettings, Settings, check_runtime
from soap_gateway.errors import ConfigurationError

DEPLOY = Path(__file__).parent.parent / "deploy"
EXAMPLE = DEPLOY / "soap-gateway.example.toml"


def runtime_error(settings: Settings) -> str:
    with pytest.raises(ConfigurationError) as info:
        check_runtime(settings)
    return str(info.value)


@pytest.fixture
def good(gateway_settings: Settings) -> Settings:
    check_runtime(gateway_settings)  # the fixture's own settings pass
    return gateway_settings


def with_billing(settings: Settings, **changes: Any) -> Settings:
    return settings.replace(billing=dataclasses.replace(settings.billing, **changes))


def test_missing_certificate_names_the_key_and_what_to_do(good: Settings, tmp_path: Path) -> None:
    message = runtime_error(with_billing(good, cert=str(tmp_path / "kassa1.pfx")))
    assert message.startswith("billing.cert: ") and "kassa1.pfx does not exist" in message
    assert ".pfx" in message and "SOAP_GATEWAY_BILLING_CERT" in message  # what to do about it


def test_certificate_path_that_is_a_directory(good: Settings, tmp_path: Path) -> None:
    message = runtime_error(with_billing(good, cert=str(tmp_path)))
    assert message.startswith("billing.cert: ") and "is not a file" in message


def test_missing_ca_names_its_key(good: Settings, tmp_path: Path) -> None:
    message = runtime_error(with_billing(good, ca=str(tmp_path / "ca.pem")))
    assert message.startswith("billing.ca: ") and "SOAP_GATEWAY_BILLING_CA" in message


def test_missing_site_catalogue_file(good: Settings, tmp_path: Path) -> None:
    message = runtime_error(with_billing(good, catalogue_files=(str(tmp_path / "site.toml"),)))
    assert message.startswith("billing.catalogue_files: ") and "site.toml does not exist" in message


@pytest.mark.parametrize("key, variable", [("url", "SOAP_GATEWAY_BILLING_URL"), ("cert", "SOAP_GATEWAY_BILLING_CERT"),
                                           ("login", "SOAP_GATEWAY_BILLING_LOGIN"),
                                           ("password", "SOAP_GATEWAY_BILLING_PASSWORD")])
def test_unset_values_are_named_with_their_variable(good: Settings, key: str, variable: str) -> None:
    message = runtime_error(with_billing(good, **{key: ""}))
    assert message.startswith(f"billing.{key} is not set") and variable in message


def test_runtime_messages_never_quote_a_password(good: Settings, tmp_path: Path) -> None:
    secret = "Pfx-Secret-77"
    message = runtime_error(with_billing(good, cert=str(tmp_path / "x.pfx"), cert_password=secret))
    assert secret not in message


def test_the_default_journal_does_not_depend_on_the_working_directory(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert Settings.load(None, {}).journal.path == str(tmp_path / "state" / "soap-gateway" / "journal.sqlite3")
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert Settings.load(None, {}).journal.path == str(tmp_path / "home/.local/state/soap-gateway/journal.sqlite3")


def test_the_units_state_directory_holds_the_default_journal(monkeypatch: pytest.MonkeyPatch) -> None:
    unit = (DEPLOY / "soap-gateway.service").read_text(encoding="utf-8")
    name = re.search(r"^StateDirectory=(\S+)$", unit, re.M)[1]  # type: ignore[index]
    monkeypatch.setenv("STATE_DIRECTORY", f"/var/lib/{name}")  # what systemd sets for StateDirectory=
    example = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert JournalSettings().path == example["journal"]["path"] == f"/var/lib/{name}/journal.sqlite3"


def test_the_default_state_directory_is_made_on_first_use(
        good: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "fresh"))
    check_runtime(good.replace(journal=JournalSettings()))
    assert (tmp_path / "fresh" / "soap-gateway").is_dir()


def test_offline_commands_do_not_need_the_files() -> None:
    # `soap-gateway wsdl` loads settings that name files absent on this machine.
    settings = Settings(billing=BillingSettings(url="https://10.0.0.5:1443/api.php", cert="/nonexistent.pfx"))
    assert settings.billing.cert == "/nonexistent.pfx"  # Settings itself accepted them


# -- the example in deploy/ --------------------------------------------------------------------------

def test_example_config_loads_and_shows_every_setting() -> None:
    settings = Settings.load(EXAMPLE, {})
    assert settings.server.public_url.startswith("https://")
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    for section, cls in (("billing", BillingSettings), ("server", ServerSettings), ("journal", JournalSettings)):
        names = {f.name for f in dataclasses.fields(cls)}
        assert set(data[section]) == names, f"[{section}] of the example differs from the settings: " \
                                            f"{sorted(names ^ set(data[section]))}"


def test_example_config_defaults_match_the_code() -> None:
    """Where the example shows a default, it is the code's default (the file must not drift)."""
    example, defaults = Settings.load(EXAMPLE, {}), Settings()
    for name in ("login_mode", "connect_timeout", "read_timeout", "read_retries", "pool_size", "timezone",
                 "timestamp_format", "session_expired_patterns", "breaker_failures", "breaker_reset_seconds"):
        assert getattr(example.billing, name) == getattr(defaults.billing, name), name
    for name in ("listen", "workers", "threads", "timeout", "max_body_bytes", "datetime_output", "log_format"):
        assert getattr(example.server, name) == getattr(defaults.server, name), name
    for name in ("url", "lease_seconds", "wait_seconds"):
        assert getattr(example.journal, name) == getattr(defaults.journal, name), name


def test_env_example_names_only_the_fixed_variables() -> None:
    from soap_gateway.config import ENVIRONMENT

    text = (DEPLOY / "soap-gateway.env.example").read_text(encoding="utf-8")
    named = {line.lstrip("#").split("=")[0] for line in text.splitlines() if "=" in line and "SOAP_GATEWAY_" in line
             and not line.startswith("# ")}
    assert named == set(ENVIRONMENT) | {"SOAP_GATEWAY_CONFIG"}
    empty = [line for line in text.splitlines() if line.endswith("=") and not line.startswith("#")]
    assert not empty, "an empty value would override the file's setting"


# -- soap-gateway check ----------------------------------------------------------------------------

def write_config(tmp_path: Path, billing: BillingSettings, **overrides: str) -> Path:
    values = {"url": billing.url, "cert": billing.cert, "ca": billing.ca, "server_name": billing.server_name,
              "login": billing.login, "password": billing.password, **overrides}
    lines = ["[billing]"] + [f'{key} = "{value}"' for key, value in values.items()]
    lines += ["[journal]", f'path = "{tmp_path / "journal.sqlite3"}"']
    path = tmp_path / "gateway.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    from soap_gateway.config import ENVIRONMENT

    for variable in ENVIRONMENT:
        monkeypatch.delenv(variable, raising=False)


@pytest.mark.usefixtures("clean_env")
def test_check_walks_every_step(tmp_path: Path, billing_settings: BillingSettings) -> None:
    out = io.StringIO()
    assert run_checks(str(write_config(tmp_path, billing_settings)), out) == 0
    lines = out.getvalue().splitlines()
    steps = [line.split(":")[0] for line in lines if not line.startswith((" ", "["))]
    assert steps[:6] == ["ok    configuration", "ok    journal", "ok    certificate", "ok    login", "ok    reads",
                         "ok    dialect"]
    assert lines[-1] == "everything works"
    assert lines[0].endswith(")") and "SOAP request path fast" in lines[0]


@pytest.mark.usefixtures("clean_env")
def test_check_names_the_soap_request_path(tmp_path: Path, billing_settings: BillingSettings) -> None:
    path = write_config(tmp_path, billing_settings)
    path.write_text(path.read_text(encoding="utf-8") + '[server]\nsoap_path = "spyne"\n', encoding="utf-8")
    out = io.StringIO()
    assert run_checks(str(path), out) == 0
    assert "SOAP request path spyne" in out.getvalue().splitlines()[0]


@pytest.mark.usefixtures("clean_env")
def test_check_uses_the_same_validation(tmp_path: Path, billing_settings: BillingSettings) -> None:
    out = io.StringIO()
    path = write_config(tmp_path, billing_settings, cert=str(tmp_path / "missing.pfx"))
    assert run_checks(str(path), out) == 1
    (line,) = out.getvalue().splitlines()
    assert line.startswith("FAIL  configuration: billing.cert: ") and "missing.pfx does not exist" in line


@pytest.mark.usefixtures("clean_env")
def test_check_reports_a_wrong_password_at_login(tmp_path: Path, billing_settings: BillingSettings) -> None:
    out = io.StringIO()
    assert run_checks(str(write_config(tmp_path, billing_settings, password="wrong-Pa55")), out) == 1
    assert out.getvalue().splitlines()[-1].startswith("FAIL  login:")
    assert "wrong-Pa55" not in out.getvalue()
