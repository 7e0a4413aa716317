"""Run records and log capture: every task attempt, what it did and why it failed."""
