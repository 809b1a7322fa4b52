"""The marked sections of bench/RESULTS.md written by benchmarks other than ``python -m bench``.

Each such benchmark (``bench.hostile``, ``bench soak``, ``bench.batch``) replaces its own
section when it runs; ``python -m bench`` rewrites the file and carries every section over.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Section:
    name: str

    @property
    def begin(self) -> str:
        return f"<!-- {self.name} -->"

    @property
    def end(self) -> str:
        return f"<!-- /{self.name} -->"

    def mark(self, body: str) -> str:
        """``body`` between the section's bounds."""
        return f"{self.begin}\n{body.rstrip()}\n{self.end}\n"

    def write(self, path: Path, marked: str) -> None:
        """Replace the section in ``path`` (or append it), leaving the rest as it is."""
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        if self.begin in text and self.end in text:
            text = text[:text.index(self.begin)] + marked + text[text.index(self.end) + len(self.end) + 1:]
        else:
            text = (text.rstrip("\n") + "\n\n" if text.strip() else "") + marked
        path.write_text(text, encoding="utf-8")

    def carry(self, path: Path, report: str) -> str:
        """``report`` with the section ``path`` already holds appended, if it holds one."""
        old = path.read_text(encoding="utf-8") if path.exists() else ""
        if self.begin not in old or self.end not in old:
            return report
        return report.rstrip("\n") + "\n\n" + old[old.index(self.begin):old.index(self.end) + len(self.end)] + "\n"
