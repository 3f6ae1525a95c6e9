"""Real stacks stood up on one machine, for the tests and the benchmarks alike: the sync server on a
loopback port (alone, or as several gunicorn app servers behind nginx with Redis), a throwaway
PostgreSQL cluster, a private pcscd with a virtual card, bank files as a bank writes them. Nothing in
the product imports this package."""
