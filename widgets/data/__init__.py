"""Data: choosing, importing and summarising a dataset."""
