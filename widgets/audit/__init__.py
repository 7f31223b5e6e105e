"""Auditing: the verification of every stored number, findings attached to items, the sign-off."""
