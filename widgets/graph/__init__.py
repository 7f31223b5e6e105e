"""The network graph: the editor canvas, the layer palette and the parameter inspector."""
