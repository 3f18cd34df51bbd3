"""`python -m scheduler`: the clock process (Procfile `clock:`); `python -m scheduler send`: a
sender (Procfile `sender:`, scheduler/notifications/senders.py)."""
# The app first, so that a bad setting stops the clock with its one line, before any log. Like
# gunicorn's, this entry point builds the app: the one module of scheduler/ that imports app.py.
import sys

from app import app
from scheduler.clock import main
from scheduler.notifications import senders

if sys.argv[1:2] == ["send"]:
    senders.main(app, sys.argv[2:])
else:
    main(app)
