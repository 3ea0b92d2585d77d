"""Help ▸ Documentation (F1) and Help ▸ About.

F1 opens the part of the docs about the area that has the keyboard focus: the module tree opens
docs/studio.md at "Model and tree", the method form at "Method", the runs list at "Runs", and so on
(`AREAS`). The docs are the Markdown files of the ``docs/`` folder beside the code (a source checkout,
the editable install ``run.sh`` makes, the bundle); they open with the desktop's handler for ``.md``
files (``QDesktopServices.openUrl``), at the section's anchor as GitHub and most Markdown viewers name
it. Without a local docs folder (an installed wheel carries none), F1 and About say where the docs are.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

ROOT = Path(__file__).resolve().parent.parent
LICENCE = "Apache-2.0"

# (the window's attribute path of an area, the docs file, the start of its section's heading).
# The first area that contains the focused widget wins, so inner areas come before outer ones.
AREAS: list[tuple[str, str, str]] = [
    ("readonly_banner", "studio.md", "Project file and window state"),
    ("tree", "studio.md", "Model and tree"),
    ("model_box", "models.md", "Model references"),
    ("method_form", "studio.md", "Method"),
    ("cost", "studio.md", "Cost"),
    ("data_panel", "studio.md", "Training and data"),
    ("training_form", "training.md", "`TrainingArguments`"),
    ("training.runs", "studio.md", "Runs"),
    ("training.view", "studio.md", "Training ("),
    ("training.playground", "studio.md", "Playground"),
    ("training.adaptation", "studio.md", "Where the adaptation went"),
]
DEFAULT = ("studio.md", "The window")


def docs_folder() -> Path | None:
    """The local docs folder, or None when this installation has none."""
    folder = ROOT / "docs"
    return folder if (folder / "studio.md").is_file() else None


def version() -> str:
    try:
        from importlib.metadata import version as dist_version

        return dist_version("adapter-studio")
    except Exception:  # noqa: BLE001 - not installed as a distribution (a bundle, a bare checkout)
        return "0.1.0"


def slug(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def section_url(name: str, heading_start: str) -> QUrl | None:
    """file:///…/docs/<name>#<anchor of the first heading that starts with heading_start>; None without docs."""
    folder = docs_folder()
    if folder is None or not (folder / name).is_file():
        return None
    url = QUrl.fromLocalFile(str(folder / name))
    for line in (folder / name).read_text(encoding="utf-8").splitlines():
        m = re.match(r"#{1,6}\s+(.*)", line)
        if m and m.group(1).strip().startswith(heading_start):
            url.setFragment(slug(m.group(1)))
            break
    return url


def _resolve(window: Any, path: str) -> Any:
    obj = window
    for part in path.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def area_of(window: Any, widget: QWidget | None) -> tuple[str, str]:
    """(docs file, heading start) for the area holding ``widget`` (the focused one)."""
    while widget is not None:
        for path, name, heading in AREAS:
            if _resolve(window, path) is widget:
                return name, heading
        if widget.objectName() == "export_dialog" or type(widget).__name__ == "ExportDialog":
            return "studio.md", "Export"
        widget = widget.parentWidget()
    return DEFAULT


def help_url(window: Any, widget: QWidget | None) -> QUrl | None:
    return section_url(*area_of(window, widget))


def open_help(window: Any) -> QUrl | None:
    """F1: open the docs section of the focused area (returns the URL opened, or None)."""
    from PySide6.QtWidgets import QApplication

    url = help_url(window, QApplication.focusWidget())
    if url is None:
        window.statusBar().showMessage(QCoreApplication.translate(
            "Help", "No documentation folder in this installation: see the docs/ folder of Adapter Studio's source."), 10000)
        return None
    QDesktopServices.openUrl(url)
    window.statusBar().showMessage(QCoreApplication.translate("Help", "Opened {0}").format(url.toDisplayString()), 5000)
    return url


class AboutDialog(QDialog):
    """Help ▸ About: the version, the licence, where the docs are."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("About Adapter Studio"))
        folder = docs_folder()
        links = []
        if folder is not None:
            for name, title in (("studio.md", self.tr("The studio")), ("training.md", self.tr("Training")),
                                ("models.md", self.tr("Models")), ("engine.md", self.tr("The adapter engine")),
                                ("project-file.md", self.tr("The project file"))):
                if (folder / name).is_file():
                    links.append(f'<a href="{QUrl.fromLocalFile(str(folder / name)).toString()}">{title}</a>')
        licence_file = ROOT / "LICENSE"
        licence = (f'<a href="{QUrl.fromLocalFile(str(licence_file)).toString()}">{LICENCE}</a>'
                   if licence_file.is_file() else LICENCE)
        docs = (" · ".join(links) if links else
                self.tr("the docs/ folder of Adapter Studio's source (this installation has no copy)"))
        self.text = QLabel(
            f"<h3>Adapter Studio {version()}</h3>"
            + "<p>" + self.tr("Parameter-efficient fine-tuning of language models on the desktop.") + "</p>"
            + "<p>" + self.tr("Licence: {0}").format(licence) + "</p>"
            + "<p>" + self.tr("Documentation: {0}").format(docs) + "</p>"
            + "<p>" + self.tr("Press F1 anywhere in the window for the part of the docs about it.") + "</p>"
        )
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setWordWrap(True)
        self.text.setOpenExternalLinks(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        box = QVBoxLayout(self)
        box.addWidget(self.text)
        box.addWidget(buttons)
        self.setMaximumWidth(560)
