"""The fault matrix: every fault and bad input the provider handles, as real tests, in one table."""
