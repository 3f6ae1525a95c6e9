"""Plumbing every page and API route shares: how URLs name rows, the development server."""
