"""The seller's pages: reviews, filing requests, answering and withdrawing (seller blueprint)."""
