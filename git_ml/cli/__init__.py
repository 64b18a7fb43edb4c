"""One thin module per executable; errors become one line here, never a traceback."""
