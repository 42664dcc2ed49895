"""Seller ratings (services/marketplace)."""
