"""What a process is configured with (settings), hands down (resources), reports (instruments)."""
