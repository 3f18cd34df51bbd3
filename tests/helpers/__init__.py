"""What several test modules share, one module per subject. Import it one way:
`from helpers.dates import quiet_monday` (tests/ is on sys.path, as conftest's folder); never
`tests.helpers...`, which would be a second copy of each module (with its own caches). Fixtures
shared this way (`mailbox`, `published`) are registered by conftest. bench/ imports the oracle and
the processes from here (`tests.helpers...`: benchmarks run outside pytest)."""
