"""What every layer shares: the neutral message contract, the locale catalog, time."""
