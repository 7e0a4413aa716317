"""Schedules in the admin and the trigger daemon that fires them (what Luigi lacks)."""
