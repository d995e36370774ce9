"""Telling approvers an alert waits for them.

When a draft is submitted, each unrevoked approver of the agency but the submitter who may
approve it (`alerts.service.may_review`: under the two-person rule, nobody who wrote any of it)
and has a notification address (`Officer.notify_to`) gets a short message with the link to the
alert in the console, by Apprise (a URL) or by SMS (a number, through the dispatcher's SMS
provider).

The notices are a queue in the database (`ApproverNotice`, store.py): `service.submit_alert`
writes one row per approver in the submit's own transaction, so a committed submit always has
its notices, and a process that stops before sending them loses none. The worker sends them
(`service.send_due_notices`): in-process threads beside the web server (runner.py), or Celery
tasks on the distributors' queue (tasks.py), kicked after the submit and by the beat's tick.
The approver's address is read when the notice is sent, never copied into the queue.

See service.py for retries, skips, the audit trail and the metric, and docs/console.md,
"Telling approvers".
"""
