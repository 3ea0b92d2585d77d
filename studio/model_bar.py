"""The window's top bar: which model the project adapts (a built-in name, a folder, a .gguf file, a Hub id)
and the open project's path. The training controller adds Train / Pause / Stop to its layout.

A choice is saved into the project at once and the window builds the model's tree
(`studio.main_window.MainWindow.load_model`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton

from studio.widgets.wrap import ElidedLabel

if TYPE_CHECKING:
    from studio.main_window import MainWindow


class ModelBar(QObject):
    """The model box, its Folder… / .gguf… / Hub… buttons and the project's path, in `layout`."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.model_box = QComboBox()
        self.model_box.setEditable(True)
        self.model_box.setMinimumWidth(260)
        from core.models import BUILTINS

        for name, text in BUILTINS.items():
            self.model_box.addItem(name)
            self.model_box.setItemData(self.model_box.count() - 1, text, Qt.ItemDataRole.ToolTipRole)
        self.model_box.setToolTip(self.tr("A built-in name, a model folder, a .gguf file or a cached hub id"))
        self.layout = QHBoxLayout()
        self.layout.addWidget(QLabel(self.tr("Model:")))
        self.layout.addWidget(self.model_box)
        self.browse_folder = QPushButton(self.tr("Folder…"))
        self.browse_folder.setToolTip(self.tr("Open a Hugging Face model folder (config.json + *.safetensors)"))
        self.browse_gguf = QPushButton(self.tr(".gguf…"))
        self.browse_gguf.setToolTip(self.tr("Open a .gguf model file"))
        self.layout.addWidget(self.browse_folder)
        self.layout.addWidget(self.browse_gguf)
        self.browse_hub = QPushButton(self.tr("Hub…"))
        self.browse_hub.setToolTip(self.tr("Find a model on the Hugging Face Hub or in the gallery: look at it, then download it"))
        self.layout.addWidget(self.browse_hub)
        self.project_label = ElidedLabel()  # a long path elides in the middle instead of widening the window
        self.layout.addStretch(1)
        self.layout.addWidget(self.project_label)

        self.model_box.activated.connect(self.on_model_box)
        self.model_box.lineEdit().returnPressed.connect(self.on_model_box)
        self.browse_folder.clicked.connect(self._browse_folder)
        self.browse_gguf.clicked.connect(self._browse_gguf)
        self.browse_hub.clicked.connect(self.open_hub)

    def on_model_box(self, *_: Any) -> None:
        window = self.window
        ref = self.model_box.currentText().strip()
        if ref and window.settings is not None and ref != window.settings.model:
            window.settings.model = ref
            window.save()
            window.load_model(ref)

    def choose(self, ref: str) -> None:
        """Switch the project to another model (saved) and load its tree."""
        self.model_box.setCurrentText(ref)
        self.on_model_box()

    def _browse_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self.window, self.tr("Model folder"))
        if path:
            self.choose(path)

    def _browse_gguf(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, self.tr("Model file"), "", "GGUF (*.gguf)")
        if path:
            self.choose(path)

    def open_hub(self) -> Any:
        """The Hub dialog (studio/widgets/hub_dialog.py); "Use this model" switches the project to the id."""
        from studio.widgets.hub_dialog import HubDialog

        dialog = HubDialog(self.window, cost_inputs=self.window.estimate.hub_inputs)
        dialog.model_chosen.connect(self.choose)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog
