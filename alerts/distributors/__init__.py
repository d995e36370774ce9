"""Secondary distributors (apps, digital signs, broadcasters): Haven pushes them CAP.

An operator registers a receiver (`haven distributor add`) with an https URL and an area.
Approving, updating or cancelling an alert writes one `distributor_delivery` per receiver it
reaches in the same transaction as the version (the outbox), and workers POST each version's
CAP document, signed with the receiver's HMAC secret, retrying with backoff. The rows are the
queue: nothing is lost across restarts. See docs/cap.md, "Pushing CAP to distributors".
"""
