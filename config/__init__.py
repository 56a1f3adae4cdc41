"""What a process is configured with (settings) and what it reports (instruments)."""
