"""Looking inside a network: what one layer outputs for one sample."""
