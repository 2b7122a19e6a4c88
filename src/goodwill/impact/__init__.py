"""Impact: does gratitude bring people back? Thanked versus randomly held-out people."""
