"""Training: the settings form and the live training plots."""
