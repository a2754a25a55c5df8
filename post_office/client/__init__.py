"""The only place with sockets and subprocesses: connection, session, delivery, bulk,
DNS, targets, ``:program``, transcript."""
