"""The kitchen's day: what to cook at the reservation cut-off, and after service what was reserved
against what was served (`counts`), as a page, a CSV and a PDF (`pdf`)."""
