"""Explanations: attribution maps and charts, their controls, epoch slider and quality checks."""
