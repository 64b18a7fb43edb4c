"""One parser per assistant's transcript format; pure functions from a file to records."""
