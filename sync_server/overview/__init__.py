"""The back office's first page: the day's figures at a glance, each from one or a few indexed
queries, so that it opens at once on a school of 20,000 pupils."""
