"""The consumers of the interop matrix: what each needs, how its proxy is made, how its driver runs.

A ``build`` generates and compiles what a consumer needs once per test
session and returns the driver's command line plus the problems found in
the generated proxy (for the generators that write source).
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import requests

from soap_gateway.catalogue import load_catalogue

from . import proxies

HERE = Path(__file__).parent
JAVA_CLASSPATH = ["/usr/share/java/jaxws-rt.jar", "/usr/share/java/javax.activation.jar", "/usr/share/java/gson.jar"]
TIMEOUT = 180


@dataclass(frozen=True)
class Target:
    """The running gateway as a consumer sees it."""

    wsdl_url: str
    endpoint: str  # the WSDL's soap:address
    scenario: Path
    credentials: tuple[str, str] | None


@dataclass(frozen=True)
class Built:
    command: list[str]
    proxy_problems: list[str] | None = None  # None: the consumer reads the WSDL at run time


@dataclass(frozen=True)
class Consumer:
    name: str
    tools: tuple[str, ...]
    version: Callable[[], str]
    build: Callable[[Target, Path], Built]


def run(command: list[str], cwd: Path | None = None) -> str:
    """A build step; its output is the failure message when it fails."""
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def compile_proxy(command: list[str], problems: list[str]) -> None:
    """Compile the driver with its proxy; a failure names what the proxy check found first."""
    try:
        run(command)
    except RuntimeError as exc:
        errors = [line for line in str(exc).splitlines() if "error" in line][:3]
        raise RuntimeError("; ".join([*problems[:5], "so the driver does not compile", *errors])) from None


def _output(command: list[str]) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=60).stdout.strip()
    except OSError:
        return "?"


# -- Python ---------------------------------------------------------------------------------------

def _python_driver(name: str) -> Callable[[Target, Path], Built]:
    def build(target: Target, work: Path) -> Built:
        return Built([sys.executable, str(HERE / name / "driver.py"), target.wsdl_url, str(target.scenario)])
    return build


# -- PHP ------------------------------------------------------------------------------------------

def _build_php(target: Target, work: Path) -> Built:
    if "soap" not in run(["php", "-m"]).split():
        raise RuntimeError("PHP has no soap extension (Debian package php-soap)")
    return Built(["php", str(HERE / "php" / "driver.php"), target.wsdl_url, str(target.scenario)])


# -- node-soap ------------------------------------------------------------------------------------

def _build_node(target: Target, work: Path) -> Built:
    if not (HERE / "node" / "node_modules" / "soap").is_dir():
        raise RuntimeError("node-soap is not installed: run `npm ci` in tests/interop/node (scripts/test.sh does)")
    return Built(["node", str(HERE / "node" / "driver.js"), target.wsdl_url, str(target.scenario)])


def _node_soap_version() -> str:
    package = HERE / "node" / "node_modules" / "soap" / "package.json"
    version = json.loads(package.read_text())["version"] if package.exists() else "?"
    return f"node-soap {version} (Node {_output(['node', '--version']).lstrip('v')})"


# -- Java -----------------------------------------------------------------------------------------

def _build_java(target: Target, work: Path) -> Built:
    generated, classes = work / "gen", work / "classes"
    command = ["wsimport", "-quiet", "-Xnocompile", "-p", "billing", "-s", str(generated)]
    if target.credentials:
        authfile = work / "auth"
        user, password = target.credentials
        authfile.write_text(target.wsdl_url.replace("://", f"://{user}:{password}@", 1) + "\n")
        command += ["-Xauthfile", str(authfile)]
    generated.mkdir()
    run([*command, target.wsdl_url])
    problems = proxies.check_wsimport(generated / "billing", load_catalogue())
    sources = sorted(str(p) for p in (generated / "billing").glob("*.java"))
    compile_proxy(["javac", "-encoding", "UTF-8", "-nowarn", "-cp", ":".join(JAVA_CLASSPATH), "-d", str(classes),
                   *sources, str(HERE / "java" / "Driver.java")], problems)
    return Built(["java", "-Dfile.encoding=UTF-8", "-cp", ":".join([*JAVA_CLASSPATH, str(classes)]), "Driver",
                  target.wsdl_url, str(target.scenario)], problems)


def _jaxws_version() -> str:
    jaxws = _output(["dpkg-query", "-W", "-f", "${Version}", "libjaxws-java"]).split("-")[0] or "?"
    done = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=60)
    release = re.search(r'version "([^"]+)"', done.stderr + done.stdout)  # printed on stderr
    return f"JAX-WS RI {jaxws} wsimport (OpenJDK {release[1] if release else '?'})"


# -- .NET on Mono ---------------------------------------------------------------------------------

MONO_SCENARIO = HERE / "mono_common" / "Scenario.cs"  # the steps both .NET drivers run, each over its proxy


def _build_asmx(target: Target, work: Path) -> Built:
    command = ["wsdl", "-nologo", "-namespace:Billing", f"-out:{work / 'Billing.cs'}"]
    if target.credentials:
        command += [f"-username:{target.credentials[0]}", f"-password:{target.credentials[1]}"]
    run([*command, target.wsdl_url])
    problems = proxies.check_wsdl_exe((work / "Billing.cs").read_text(encoding="utf-8"), load_catalogue())
    compile_proxy(["mcs", "-nologo", "-warn:0", f"-out:{work / 'driver.exe'}", "-r:System.Web.Services",
                   "-r:System.Web.Extensions", "-r:System.Xml", str(work / "Billing.cs"),
                   str(HERE / "mono_asmx" / "Program.cs"), str(MONO_SCENARIO)], problems)
    return Built(["mono", str(work / "driver.exe"), str(target.scenario)], problems)


def _build_wcf(target: Target, work: Path) -> Built:
    wsdl = target.wsdl_url
    if target.credentials:
        # Mono's svcutil takes no credentials: it reads a copy fetched with them (as a file:// URL,
        # since it refuses a path ending in .wsdl).
        copy = work / "billing.wsdl"
        copy.write_bytes(requests.get(wsdl, auth=target.credentials, timeout=30).content)
        wsdl = copy.as_uri()
    run(["svcutil", "--noLogo", "--noConfig", f"--out={work / 'BillingWcf.cs'}", wsdl], cwd=work)
    problems = proxies.check_svcutil((work / "BillingWcf.cs").read_text(encoding="utf-8"), load_catalogue())
    compile_proxy(["mcs", "-nologo", "-warn:0", f"-out:{work / 'driver.exe'}", "-r:System.ServiceModel",
                   "-r:System.Runtime.Serialization", "-r:System.Web.Extensions", "-r:System.Xml",
                   str(work / "BillingWcf.cs"), str(HERE / "mono_wcf" / "Program.cs"), str(MONO_SCENARIO)], problems)
    return Built(["mono", str(work / "driver.exe"), target.endpoint, str(target.scenario)], problems)


def _mono_version() -> str:
    first = _output(["mono", "--version"]).splitlines()
    return first[0].split(" (")[0].replace("Mono JIT compiler version", "Mono") if first else "Mono ?"


CONSUMERS = [
    Consumer("zeep", (), lambda: f"zeep {importlib.metadata.version('zeep')} strict", _python_driver("zeep")),
    Consumer("suds", (), lambda: f"suds-community {importlib.metadata.version('suds-community')}",
             _python_driver("suds")),
    Consumer("php", ("php",), lambda: f"PHP {_output(['php', '-r', 'echo PHP_VERSION;'])} SoapClient", _build_php),
    Consumer("node", ("node",), _node_soap_version, _build_node),
    Consumer("java", ("wsimport", "javac", "java"), _jaxws_version, _build_java),
    Consumer("mono_asmx", ("wsdl", "mcs", "mono"), lambda: f"{_mono_version()} wsdl (ASMX)", _build_asmx),
    Consumer("mono_wcf", ("svcutil", "mcs", "mono"), lambda: f"{_mono_version()} svcutil (WCF)", _build_wcf),
]
