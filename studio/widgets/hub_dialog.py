"""The Hub dialog: find a model (the gallery, a search, or a typed id), look at it before any weights move,
download it with progress, cancel, resume; a token field for gated models.

Looking at a model (`core.hub.info`) fetches its ``config.json`` alone into the Hugging Face cache; the
tree, the parameter count and the memory estimate for the window's current method are then built from
that config on the meta device (`studio.jobs.load_tree`, `studio.jobs.count_cost`). A gallery model's
config ships with the app (``assets/gallery``), so its facts show offline too. Network and skeleton work
runs on this dialog's own pool threads, the download on a thread of its own (it may take an hour; the
window's jobs must not wait behind it); results come back as queued signals.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from studio.messages import person
from studio.widgets.module_tree import ModuleTree

ROLE_ID = Qt.ItemDataRole.UserRole


def _short(n: float) -> str:
    """2,030,000,000 -> 2.03B (the way model sizes are spoken of)."""
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g}{unit}"
    return f"{n:.0f}"


def look_up(repo_id: str, revision: str | None, cost_inputs: tuple | None) -> dict[str, Any]:
    """Pool thread: the hub's facts (or why not), the gallery's, the tree and the cost, from the config alone."""
    from core import hub
    from core.errors import PersonError
    from studio.jobs import count_cost, load_tree

    out: dict[str, Any] = {"repo_id": repo_id, "info": None, "info_error": "", "gallery": None, "tree": None,
                           "tree_error": "", "cost": None}
    out["gallery"] = next((e for e in hub.gallery() if e.repo_id == repo_id), None)
    try:
        out["info"] = hub.info(repo_id, revision or None)
    except PersonError as exc:
        out["info_error"] = str(exc)
    try:
        out["tree"] = load_tree(repo_id)  # the cached config.json (just fetched) or the gallery's
    except Exception as exc:  # noqa: BLE001 - shown in the tree's place
        out["tree_error"] = str(exc)
        return out
    if cost_inputs is not None:
        method, config, memory = cost_inputs
        try:
            out["cost"] = count_cost(repo_id, method, config, memory)
        except Exception as exc:  # noqa: BLE001
            out["cost_error"] = str(exc)
    return out


def _search(query: str) -> list[Any]:
    from core import hub

    return hub.search(query)


def _save_token(token: str) -> str:
    from core import hub

    return hub.save_token(token)


def _token_state() -> bool:
    from core import hub

    return hub.current_token() is not None


class HubDialog(QDialog):
    """Pick a model from the Hub; `model_chosen` carries its id when the person clicks "Use this model"."""

    model_chosen = Signal(str)
    looked_up = Signal()  # a look-up finished (shown or failed): tests wait on it
    searched = Signal()
    download_finished = Signal(bool)  # True when the snapshot is complete and checked
    token_checked = Signal()
    _progress = Signal(object)  # core.hub.Progress, from the download thread
    _download_done = Signal(bool, str)

    def __init__(self, parent: QWidget | None = None, *, cost_inputs: Callable[[], tuple | None] | None = None) -> None:
        super().__init__(parent)
        from studio.jobs import Runner

        self.setWindowTitle(self.tr("Models from the Hugging Face Hub"))
        self.resize(980, 640)
        self.runner = Runner(self, threads=2)
        self.cost_inputs = cost_inputs
        self.current: str | None = None
        self.model: Any = None  # core.hub.HubModel of the current id
        self.cancel_event: threading.Event | None = None
        self.thread: threading.Thread | None = None
        self.downloading = False  # True from Download until the thread's result reaches the window

        self.query = QLineEdit()
        self.query.setPlaceholderText(self.tr("Search words, or a model id such as Qwen/Qwen2.5-0.5B-Instruct"))
        self.search_button = QPushButton(self.tr("Search"))
        self.look_button = QPushButton(self.tr("Look up id"))
        self.revision = QLineEdit()
        self.revision.setPlaceholderText(self.tr("revision (main)"))
        self.revision.setMaximumWidth(140)
        top = QHBoxLayout()
        top.addWidget(self.query, 1)
        top.addWidget(self.revision)
        top.addWidget(self.search_button)
        top.addWidget(self.look_button)

        self.results = QListWidget()
        self.facts = QLabel(self.tr("Choose a model on the left: its facts, tree and memory show before anything is downloaded."))
        self.facts.setWordWrap(True)
        self.facts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.tree = ModuleTree()
        right = QWidget()
        rbox = QVBoxLayout(right)
        rbox.setContentsMargins(0, 0, 0, 0)
        rbox.addWidget(self.facts)
        rbox.addWidget(self.tree, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.results)
        split.addWidget(right)
        split.setSizes([320, 660])

        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress_text = QLabel("")
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.download_button = QPushButton(self.tr("Download"))
        self.cancel_button = QPushButton(self.tr("Cancel download"))
        self.use_button = QPushButton(self.tr("Use this model"))
        self.close_button = QPushButton(self.tr("Close"))
        for b in (self.download_button, self.cancel_button, self.use_button):
            b.setEnabled(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.progress, 1)
        buttons.addWidget(self.download_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.use_button)
        buttons.addWidget(self.close_button)

        self.token = QLineEdit()
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText(self.tr("hf_… (read token, for gated models)"))
        self.token_button = QPushButton(self.tr("Save token"))
        self.token_state = QLabel("")
        token_row = QHBoxLayout()
        token_row.addWidget(self.token, 1)
        token_row.addWidget(self.token_button)
        token_row.addWidget(self.token_state)
        form = QFormLayout()
        form.addRow(self.tr("Access token:"), token_row)

        box = QVBoxLayout(self)
        box.addLayout(top)
        box.addWidget(split, 1)
        box.addWidget(self.progress_text)
        box.addWidget(self.message)
        box.addLayout(buttons)
        box.addLayout(form)

        self.search_button.clicked.connect(self.search)
        self.look_button.clicked.connect(lambda: self.look(self.query.text().strip()))
        self.query.returnPressed.connect(self._on_return)
        self.query.textChanged.connect(self._fill_gallery)
        self.results.currentItemChanged.connect(self._on_pick)
        self.download_button.clicked.connect(self.download)
        self.cancel_button.clicked.connect(self.cancel)
        self.use_button.clicked.connect(self._use)
        self.close_button.clicked.connect(self.close)
        self.token_button.clicked.connect(self.save_token)
        self._progress.connect(self._show_progress)
        self._download_done.connect(self._on_download_done)
        self._hits: list[Any] = []
        self._fill_gallery()
        self.runner.submit(_token_state, on_done=self._show_token_state, on_error=lambda m: None)

    # ---- finding ---------------------------------------------------------------------------------

    def _fill_gallery(self, *_: Any) -> None:
        """The gallery entries matching the text, then the last search's hits."""
        from core import hub

        text = self.query.text().strip().lower()
        self.results.blockSignals(True)
        self.results.clear()
        head = QListWidgetItem(self.tr("Gallery (facts and tree offline)"))
        head.setFlags(Qt.ItemFlag.NoItemFlags)
        self.results.addItem(head)
        for entry in hub.gallery():
            if text and text not in entry.repo_id.lower():
                continue
            gated = self.tr(", gated") if entry.gated else ""
            item = QListWidgetItem(f"{entry.repo_id}  ({_short(entry.parameters)}, {entry.licence}{gated})")
            item.setData(ROLE_ID, entry.repo_id)
            self.results.addItem(item)
        if self._hits:
            head = QListWidgetItem(self.tr("On the Hub"))
            head.setFlags(Qt.ItemFlag.NoItemFlags)
            self.results.addItem(head)
            for hit in self._hits:
                gated = self.tr(", gated") if hit.gated else ""
                item = QListWidgetItem(self.tr("{0}  ({1:,} downloads{2})").format(hit.repo_id, hit.downloads, gated))
                item.setData(ROLE_ID, hit.repo_id)
                self.results.addItem(item)
        self.results.blockSignals(False)

    def _on_return(self) -> None:
        text = self.query.text().strip()
        if "/" in text and " " not in text:
            self.look(text)
        else:
            self.search()

    def search(self) -> None:
        text = self.query.text().strip()
        self.message.setText(self.tr("Searching the Hub for {0}…").format(text))

        def done(hits: list[Any]) -> None:
            self._hits = hits
            self._fill_gallery()
            self.message.setText(self.tr("{0} models found on the Hub.").format(len(hits)) if hits
                                 else self.tr("No model on the Hub matches {0}.").format(text))
            self.searched.emit()

        def failed(message: str) -> None:
            self.message.setText(person(message, "model"))
            self.searched.emit()

        self.runner.submit(_search, text, on_done=done, on_error=failed)

    def _on_pick(self, item: QListWidgetItem | None, *_: Any) -> None:
        repo_id = item.data(ROLE_ID) if item is not None else None
        if repo_id:
            self.look(repo_id)

    def look(self, repo_id: str) -> None:
        """Show ``repo_id``'s facts, tree and memory (its config.json is fetched, no weights)."""
        if not repo_id:
            return
        self.current, self.model = repo_id, None
        self.download_button.setEnabled(False)
        self.use_button.setEnabled(False)
        self.message.setText("")
        self.facts.setText(self.tr("Looking up {0} (config.json only)…").format(repo_id))
        self.tree.set_loading(True, self.tr("Building the skeleton of {0}…").format(repo_id))
        inputs = self.cost_inputs() if self.cost_inputs is not None else None
        revision = self.revision.text().strip() or None

        def failed(message: str) -> None:
            if repo_id == self.current:
                self.tree.set_error(message)
                self.message.setText(person(message, "model"))
            self.looked_up.emit()

        self.runner.submit(look_up, repo_id, revision, inputs, on_done=self._show, on_error=failed)

    def _show(self, result: dict[str, Any]) -> None:
        if result["repo_id"] != self.current:
            self.looked_up.emit()
            return  # a newer choice is on its way
        info, entry = result["info"], result["gallery"]
        self.model = info
        lines = [f"<b>{result['repo_id']}</b>"]
        tree = result["tree"]
        if tree is not None:
            lines.append(self.tr("Parameters: {0:,} ({1})").format(tree.node.total_params, _short(tree.node.total_params)))
            self.tree.set_loading(False)
            self.tree.set_model(tree)
        else:
            self.tree.set_error(result["tree_error"])
        cost = result.get("cost")
        if cost is not None:
            from core.hub import human_bytes

            lines.append(self.tr("Training memory for the current method (estimate): {0}; trainable parameters {1:,}")
                         .format(human_bytes(cost["memory"]["total"]), cost["trainable"]))
        wanted = None
        if info is not None:
            gated = {False: self.tr("no"), "auto": self.tr("yes (access granted on request)"),
                     "manual": self.tr("yes (the authors approve each request)")}.get(info.gated, "?")
            lines.append(self.tr("Licence: {0} · gated: {1}").format(info.licence or self.tr("not stated"), gated))
            try:
                wanted = info.wanted  # raises for a repository without safetensors weights
            except Exception as exc:  # noqa: BLE001 - a person error: shown, and nothing to download
                result["info_error"] = result["info_error"] or str(exc)
            if info.gated is None:  # core.hub's offline answer: the cache's copy, the Hub's facts unknown
                lines.append(self.tr("Offline: what the cache holds."))
            elif wanted is not None:
                lines.append(self.tr("Download: {0} files, {1}").format(len(wanted), _bytes(sum(f.size for f in wanted))))
            if info.cached:
                lines.append(self.tr("Already downloaded: it opens offline."))
            if info.config_error:
                lines.append(person(info.config_error, "model"))
        elif entry is not None:
            lines.append(self.tr("Licence: {0} · gated: {1}").format(entry.licence, self.tr("yes") if entry.gated else self.tr("no")))
            lines.append(self.tr("From the gallery's config.json (the Hub was not reached)."))
        if result["info_error"]:
            self.message.setText(person(result["info_error"], "model"))
        self.facts.setText("<br>".join(lines))
        self.download_button.setEnabled(info is not None and wanted is not None and not info.cached)
        self.use_button.setEnabled(info is not None and info.cached)
        self.looked_up.emit()

    # ---- downloading -----------------------------------------------------------------------------

    def download(self) -> None:
        if self.current is None or self.downloading:
            return
        if self.thread is not None:
            # The last download has reported (``_on_download_done`` ran) but its thread may not have returned
            # yet: asking ``is_alive()`` here raced a quick second click and silently did nothing.
            self.thread.join(5)
        from core import hub

        repo_id, model = self.current, self.model
        revision = self.revision.text().strip() or None
        self.cancel_event = threading.Event()
        cancel, emit, finish = self.cancel_event, self._progress.emit, self._download_done.emit
        self.downloading = True
        self.download_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.message.setText(self.tr("Downloading {0}…").format(repo_id))

        def work() -> None:  # its own thread: emitting signals is safe, touching widgets is not
            try:
                folder = hub.download(repo_id, revision, progress=emit, cancel=cancel, model=model)
            except Exception as exc:  # noqa: BLE001 - every failure is a message for the person
                try:
                    finish(False, str(exc))
                except RuntimeError:  # the dialog is gone
                    pass
            else:
                try:
                    finish(True, str(folder))
                except RuntimeError:
                    pass

        self.thread = threading.Thread(target=work, name=f"download {repo_id}", daemon=True)
        self.thread.start()

    def cancel(self) -> None:
        if self.cancel_event is not None:
            self.cancel_event.set()
            self.cancel_button.setEnabled(False)
            self.message.setText(self.tr("Cancelling…"))

    def _show_progress(self, p: Any) -> None:
        self.progress.setValue(int(1000 * p.done / p.total) if p.total else 1000)
        eta = "?" if p.eta_s is None else _clock(p.eta_s)
        self.progress_text.setText(self.tr("{0} of {1} · {2}/s · {3} left · {4}").format(
            _bytes(p.done), _bytes(p.total), _bytes(p.speed), eta, p.file))

    def _on_download_done(self, ok: bool, text: str) -> None:
        self.downloading = False
        self.cancel_button.setEnabled(False)
        if ok:
            self.progress.setValue(1000)
            self.message.setText(self.tr("{0} is downloaded and its weights check out ({1}).").format(self.current, text))
            self.use_button.setEnabled(True)
            if self.model is not None:
                self.model.cached = True
        else:
            self.message.setText(person(text, "model"))
            self.download_button.setEnabled(self.model is not None)
        self.download_finished.emit(ok)

    def _use(self) -> None:
        if self.current:
            self.model_chosen.emit(self.current)
            self.accept()

    # ---- the token -------------------------------------------------------------------------------

    def save_token(self) -> None:
        token = self.token.text().strip()

        def done(name: str) -> None:
            self.token.clear()
            self.token_state.setText(self.tr("Logged in as {0}").format(name))
            self.token_checked.emit()

        def failed(message: str) -> None:
            self.token_state.setText(self.tr("Not saved"))
            self.message.setText(person(message, "model"))
            self.token_checked.emit()

        self.runner.submit(_save_token, token, on_done=done, on_error=failed)

    def _show_token_state(self, has_token: bool) -> None:
        self.token_state.setText(self.tr("A token is stored") if has_token else self.tr("No token stored"))

    def closeEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        self.cancel()  # a running download stops at its next chunk and stays resumable
        super().closeEvent(event)


def _bytes(n: float) -> str:
    from core.hub import human_bytes

    return human_bytes(n)


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
