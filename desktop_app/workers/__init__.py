"""QThread workers that adapt the Qt-free engines to Qt signals."""
