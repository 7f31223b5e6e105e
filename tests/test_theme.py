"""Light and dark themes: the window's palette, themed views and the remembered choice."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QWidget

from workbench.gui.theme import DARK, LIGHT, SETTINGS_KEY

pytestmark = pytest.mark.gui


@pytest.fixture
def window(make_main_window):
    w = make_main_window()
    yield w
    w.theme.set_mode("system")  # the palette is application-wide: leave it as found


def _colour(w, role: QPalette.ColorRole = QPalette.ColorRole.Window) -> str:
    # QWidget.palette: the window's own ``palette`` attribute is the layer palette dock
    return QWidget.palette(w).color(role).name()


def test_dark_changes_the_palette_and_is_remembered(window, make_main_window, qtbot) -> None:
    w = window
    w.show()
    theme_menu = next(a.menu() for a in w.menuBar().actions() if a.text() == "&View")
    theme_menu = next(a.menu() for a in theme_menu.actions() if a.menu() and a.text() == "&Theme")
    by_title = {a.text(): a for a in theme_menu.actions()}
    assert list(by_title) == ["&System", "&Light", "&Dark"] and by_title["&System"].isChecked()

    by_title["&Dark"].trigger()
    qtbot.waitUntil(lambda: _colour(w) == DARK["window"])
    assert QColor(_colour(w)).lightness() < 80
    assert _colour(w, QPalette.ColorRole.WindowText) == DARK["text"]
    assert by_title["&Dark"].isChecked() and not by_title["&System"].isChecked()
    assert QSettings().value(SETTINGS_KEY) == "dark"
    # a view the workbench owns follows through set_theme
    view = w.look_inside
    assert view.image_plot.backgroundBrush().color().name() == DARK["plot_background"]
    # a plot with no set_theme of its own is restyled
    import pyqtgraph as pg

    others = [p for p in w.findChildren(pg.PlotWidget)
              if not any(v.isAncestorOf(p) for v in w.findChildren(type(view)))]
    for plot in others:
        if not callable(getattr(plot.parentWidget(), "set_theme", None)):
            assert plot.backgroundBrush().color().name() == DARK["plot_background"]

    # the next start reads the choice back
    again = make_main_window()
    assert again.theme.mode == "dark"

    w.theme.set_mode("light")
    qtbot.waitUntil(lambda: _colour(w) == LIGHT["window"])
    assert QSettings().value(SETTINGS_KEY) == "light"
    assert view.image_plot.backgroundBrush().color().name() == LIGHT["plot_background"]
    with pytest.raises(ValueError, match="Unknown theme 'purple'"):
        w.theme.set_mode("purple")


def test_system_mode_follows_the_desktop(window, qtbot, monkeypatch) -> None:
    w = window
    w.theme.set_mode("system")
    seen: list[str] = []
    w.theme.theme_changed.connect(lambda t: seen.append(t["name"]))
    monkeypatch.setattr(type(w.theme), "system_is_dark", lambda self: True)
    w.theme._on_system_scheme_changed(Qt.ColorScheme.Dark)  # what the desktop's change emits
    qtbot.waitUntil(lambda: _colour(w) == DARK["window"])
    assert seen == ["dark"]
    w.theme.set_mode("light")  # an explicit choice is not overridden by the desktop
    w.theme._on_system_scheme_changed(Qt.ColorScheme.Dark)
    assert seen == ["dark", "light"]
    qtbot.waitUntil(lambda: _colour(w) == LIGHT["window"])
