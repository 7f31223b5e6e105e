"""Qt views and editors: plain Python / numpy in, Qt signals out. Never torch or engines."""
