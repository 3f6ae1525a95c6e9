"""Badge readers, receipt printer and cash drawer behind small interfaces (see issue 3)."""
