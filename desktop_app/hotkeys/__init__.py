"""hotkeys."""
