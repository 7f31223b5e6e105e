"""Light and dark themes: follow the system, or a choice the user made (kept in QSettings).

The theme is a small dict of colours (:data:`LIGHT`, :data:`DARK`). Qt widgets follow it through
the application palette; views that draw their own colours (plots, the graph canvas) expose
``set_theme(theme: dict)`` and are called with it whenever the theme changes. pyqtgraph plots
that have no ``set_theme`` of their own get their background, axes and titles restyled here.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QSettings, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QMenu, QWidget

__all__ = ["DARK", "LIGHT", "MODES", "SETTINGS_KEY", "ThemeController", "qpalette", "style_plot"]

SETTINGS_KEY = "view/theme"
MODES = {"system": "&System", "light": "&Light", "dark": "&Dark"}

# Keys every theme has; widgets read the ones they need and ignore the rest.
LIGHT: dict[str, str] = {
    "name": "light",
    "window": "#efefef",
    "base": "#ffffff",
    "alternate_base": "#f5f5f5",
    "text": "#1f2529",
    "muted_text": "#5f6b73",
    "button": "#e6e6e6",
    "highlight": "#2f73c8",
    "highlighted_text": "#ffffff",
    "link": "#1a5fb4",
    "tooltip_base": "#ffffdc",
    "plot_background": "#ffffff",
    "plot_foreground": "#263238",
    "grid": "#b0bec5",
    "canvas": "#fafafa",
    "node_text": "#263238",
    "edge": "#546e7a",
    "edge_label": "#263238",
    "problem": "#d32f2f",
    "accent": "#1e88e5",
    "positive": "#43a047",
    "negative": "#e53935",
    "colormap": "viridis",
}

DARK: dict[str, str] = {
    "name": "dark",
    "window": "#2b2e31",
    "base": "#1f2124",
    "alternate_base": "#272a2d",
    "text": "#e3e6e8",
    "muted_text": "#9aa4ab",
    "button": "#35393d",
    "highlight": "#3d7ad6",
    "highlighted_text": "#ffffff",
    "link": "#78aef0",
    "tooltip_base": "#3a3e42",
    "plot_background": "#1f2124",
    "plot_foreground": "#cfd8dc",
    "grid": "#546e7a",
    "canvas": "#232629",
    "node_text": "#eceff1",
    "edge": "#90a4ae",
    "edge_label": "#cfd8dc",
    "problem": "#ff6659",
    "accent": "#64b5f6",
    "positive": "#81c784",
    "negative": "#ef9a9a",
    "colormap": "viridis",
}


def qpalette(theme: dict[str, str]) -> QPalette:
    """The Qt palette for a theme (disabled text dimmed)."""
    R, G = QPalette.ColorRole, QPalette.ColorGroup
    p = QPalette()
    roles = {
        R.Window: "window",
        R.WindowText: "text",
        R.Base: "base",
        R.AlternateBase: "alternate_base",
        R.Text: "text",
        R.Button: "button",
        R.ButtonText: "text",
        R.BrightText: "highlighted_text",
        R.Highlight: "highlight",
        R.HighlightedText: "highlighted_text",
        R.Link: "link",
        R.ToolTipBase: "tooltip_base",
        R.ToolTipText: "text",
        R.PlaceholderText: "muted_text",
    }
    for role, key in roles.items():
        p.setColor(role, QColor(theme[key]))
    muted = QColor(theme["muted_text"])
    for role in (R.WindowText, R.Text, R.ButtonText):
        p.setColor(G.Disabled, role, muted)
    dark = theme["name"] == "dark"
    # Fusion draws frames and bevels from these
    p.setColor(R.Light, QColor(theme["button"]).lighter(130 if dark else 150))
    p.setColor(R.Midlight, QColor(theme["button"]).lighter(115))
    p.setColor(R.Mid, QColor(theme["button"]).darker(130))
    p.setColor(R.Dark, QColor(theme["button"]).darker(170))
    p.setColor(R.Shadow, QColor("#000000"))
    return p


def style_plot(plot: Any, theme: dict[str, str]) -> None:
    """Restyle a pyqtgraph ``PlotWidget`` (background, axes, title) for ``theme``."""
    import pyqtgraph as pg

    fg = theme["plot_foreground"]
    plot.setBackground(theme["plot_background"])
    item = plot.getPlotItem()
    for name in ("left", "bottom", "right", "top"):
        axis = item.getAxis(name)
        axis.setPen(pg.mkPen(fg))
        axis.setTextPen(pg.mkPen(fg))
    title = item.titleLabel
    if title.text:
        title.setText(title.text, color=fg)
    legend = item.legend
    if legend is not None:
        legend.setLabelTextColor(fg)
        # translucent: a curve passing under the legend stays visible
        background = QColor(theme["plot_background"])
        background.setAlpha(150)
        legend.setBrush(pg.mkBrush(background))


class ThemeController(QObject):
    """Keeps the application's look in line with the chosen theme mode.

    ``mode`` is ``"system"`` (follow the desktop's light/dark setting, and its changes),
    ``"light"`` or ``"dark"``; the choice is stored in QSettings under :data:`SETTINGS_KEY`.
    """

    theme_changed = Signal(dict)  # the colours in use changed; the new theme dict

    def __init__(self, root: QWidget, settings: QSettings | None = None) -> None:
        super().__init__(root)
        self.root = root
        self.settings = settings if settings is not None else QSettings()
        stored = str(self.settings.value(SETTINGS_KEY, "system"))
        self._mode = stored if stored in MODES else "system"
        self._theme: dict[str, str] = LIGHT
        self._actions: dict[str, QAction] = {}
        hints = QGuiApplication.styleHints()
        hints.colorSchemeChanged.connect(self._on_system_scheme_changed)
        self.apply()

    @property
    def mode(self) -> str:
        return self._mode

    def theme(self) -> dict[str, str]:
        """The colours in use (a copy)."""
        return dict(self._theme)

    def set_mode(self, mode: str) -> None:
        """Choose ``"system"``, ``"light"`` or ``"dark"``, remember it and restyle."""
        if mode not in MODES:
            raise ValueError(f"Unknown theme {mode!r}; choose one of: {', '.join(MODES)}.")
        self._mode = mode
        self.settings.setValue(SETTINGS_KEY, mode)
        action = self._actions.get(mode)
        if action is not None and not action.isChecked():
            action.setChecked(True)
        self.apply()

    def system_is_dark(self) -> bool:
        return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark

    def apply(self) -> None:
        """Set the application palette and tell every themed view."""
        app = QApplication.instance()
        dark = self._mode == "dark" or (self._mode == "system" and self.system_is_dark())
        self._theme = DARK if dark else LIGHT
        if isinstance(app, QApplication):
            if dark and app.style().name().lower() in ("windowsvista", "windows", "windows11"):
                # the native Windows styles ignore most palette colours; Fusion honours them
                app.setStyle("Fusion")
            if self._mode == "system" and not dark:
                app.setPalette(QPalette())  # the platform's own palette
            else:
                app.setPalette(qpalette(self._theme))
        self._restyle(self._theme)
        self.theme_changed.emit(dict(self._theme))

    def _restyle(self, theme: dict[str, str]) -> None:
        import pyqtgraph as pg

        pg.setConfigOptions(background=theme["plot_background"], foreground=theme["plot_foreground"])
        themed = [w for w in self.root.findChildren(QWidget) if callable(getattr(w, "set_theme", None))]
        for w in themed:
            w.set_theme(dict(theme))  # type: ignore[attr-defined]
        # plots inside a view that themes itself are left to it
        for plot in self.root.findChildren(pg.PlotWidget):
            if not any(v is plot or v.isAncestorOf(plot) for v in themed):
                style_plot(plot, theme)

    def menu(self, parent: QWidget) -> QMenu:
        """A "Theme" menu with the three modes as exclusive choices."""
        menu = QMenu("&Theme", parent)
        group = QActionGroup(menu)
        group.setExclusive(True)
        for mode, title in MODES.items():
            action = QAction(title, menu)
            action.setCheckable(True)
            action.setChecked(mode == self._mode)
            action.setStatusTip(
                "Follow the desktop's light or dark setting" if mode == "system"
                else f"Always use the {mode} theme"
            )
            action.triggered.connect(lambda _=False, m=mode: self.set_mode(m))
            group.addAction(action)
            menu.addAction(action)
            self._actions[mode] = action
        return menu

    def _on_system_scheme_changed(self, _scheme: Qt.ColorScheme) -> None:
        if self._mode == "system":
            self.apply()
