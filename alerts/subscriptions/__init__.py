"""Subscriptions: how people and distributors sign up for AMBER alerts, and how they leave.

Three doors, one set of rules (at most five places, a language, opt-out until START):

- SMS keywords through Twilio's inbound webhook (`webhooks.py`, parsed by `keywords.py`);
- the web form, confirmed by a one-time code sent by SMS (`pages.py`);
- Apprise channels (email, ntfy, JSON webhooks), confirmed through a link sent to the channel
  itself (`api.py`, `channels.py`).

And out: STOP by SMS, the web's unsubscribe form with a code (`unsubscribe.py`, which ends a
number's subscription through STOP's own `service.opt_out`), and each channel's stop link.

The operations live in `service.py` and `channels.py`, the queries in `store.py`, the texts
people read in templates (templates/sms/replies/, templates/alerts/). See docs/subscriptions.md.
"""
