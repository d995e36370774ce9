"""Take It Down: anonymous removal cases, the platform hash feed, and platform feedback."""
