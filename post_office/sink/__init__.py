"""The embedded SMTP sink (the ``sink`` extra): server, protocol, loop, store,
certificates, behaviour, stored mailboxes.  Importing this package loads none of them."""
