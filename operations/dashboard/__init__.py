"""The operators' monitoring page at /dashboard/ (staff only)."""
