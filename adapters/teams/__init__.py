"""Teams: the app package (manifest and icons) now; the activity handler, cards and messenger later."""
