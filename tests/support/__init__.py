"""Real services for the tests: a throwaway PostgreSQL cluster and friends."""
