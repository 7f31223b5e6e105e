"""The Qt application: main window, panels and their controllers, the undoable document, workers, recovery, errors and theme."""
