"""What the calendar says of a territory over a period: coverage of the quartiers (`coverage`),
the review of actions and quartiers (`review`), their charts (`charts`) and their tables as CSV
and XLSX (`exports`). All of it computed from the one expansion of `scheduler.time`."""
