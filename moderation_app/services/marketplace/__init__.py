"""The marketplace's data: import lines, the batch importer, and the seller's rating."""
