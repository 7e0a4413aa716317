"""Admin registrations of the monitor's models. None yet."""
