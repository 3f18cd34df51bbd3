"""`python -m scheduler`: the clock process (Procfile `clock:`)."""
from scheduler.clock import main

main()
