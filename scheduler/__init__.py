"""Time itself: recurrence expansion, overlaps, reminders and the clock process."""
