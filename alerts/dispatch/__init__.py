"""Dispatch: from an approved alert version to one delivery per subscriber and channel.

The database is the queue of record. A version's dispatch job is written in the same
transaction as the version; workers (in-process threads, or Celery workers) claim jobs and
deliveries under time-limited leases, so a worker that dies only delays its batch.
"""
