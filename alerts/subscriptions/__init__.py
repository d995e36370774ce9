"""Subscriptions: how people and distributors sign up for AMBER alerts, and how they leave.

Three doors, one set of rules (at most five places, a language, opt-out until START):

- SMS keywords through Twilio's inbound webhook (`webhooks.py`, parsed by `keywords.py`);
- the web form, confirmed by a one-time code sent by SMS (`pages.py`);
- Apprise channels (email, ntfy, JSON webhooks), confirmed through a link sent to the channel
  itself (`api.py`, `channels.py`).

The operations live in `service.py` and `channels.py`, the queries in `store.py`, the texts
people read in templates (templates/sms/replies/, templates/alerts/). See docs/subscriptions.md.
"""
