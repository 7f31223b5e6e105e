"""The headless product: project and audit files, migrations, and the operations the command line and the window share. Never imports Qt, pyqtgraph, widgets or workbench.gui."""
