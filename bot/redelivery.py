"""Each incoming update is handled once, whichever process receives it and however often.

Telegram delivers a webhook update again when it got no 200 in time, and polling hands out
again the updates of a process that died before confirming them; several workers behind one
URL may each be given one. Before an update is handled its key is inserted into
`processed_updates` in a transaction of its own: the process whose insert lands handles it,
every other delivery is dropped. The claim is committed before the handlers run, so a crash
in between loses that update rather than handling it twice (Telegram has had its 200 by then
anyway). Keys older than a day are pruned, once an hour per process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import utcnow
from storage.repos.updates import UpdateRepo

log = logging.getLogger(__name__)

# Telegram gives up redelivering long before this; a week's silence restarts its numbering.
KEEP = timedelta(hours=24)
PRUNE_EVERY = timedelta(hours=1)


class Redelivery:
    """The claim on each update, kept in the database shared by every worker."""

    def __init__(
        self, db: async_sessionmaker[AsyncSession], *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._db = db
        self._clock = clock
        self._pruned = datetime.min.replace(tzinfo=UTC)  # the first claim prunes

    async def first(self, channel: str, key: str) -> bool:
        """Claim the update; False when some process claimed it before (drop it then)."""
        now = self._clock()
        async with self._db.begin() as session:
            fresh = await UpdateRepo(session).claim(channel, key, now)
        if fresh and now - self._pruned >= PRUNE_EVERY:
            self._pruned = now  # before the await: concurrent updates do not all prune
            async with self._db.begin() as session:
                gone = await UpdateRepo(session).prune(now - KEEP)
            log.debug("forgot %d handled updates older than %s", gone, KEEP)
        return fresh
