"""What is made of the store: export, feedback, stats, reports, contribute."""
