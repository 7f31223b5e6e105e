"""What several capabilities' views share: exporting views to files, the live-redraw rate."""
