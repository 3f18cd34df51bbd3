"""`python -m scheduler`: the clock process (Procfile `clock:`)."""
# The app first, so that a bad setting stops the clock with its one line, before any log. Like
# gunicorn's, this entry point builds the app: the one module of scheduler/ that imports app.py.
from app import app
from scheduler.clock import main

main(app)
