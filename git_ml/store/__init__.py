"""The store: chunks of records under refs/ml/*, written by compare-and-swap, read by one reader."""
