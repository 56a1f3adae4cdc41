"""The Zalo channel: a client of the Zalo Bot Platform API and the civil-servant flows over it.

Parallel to `handlers/` (Telegram): both call the same domain services; neither knows the other.
"""
